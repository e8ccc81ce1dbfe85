"""AppTest flows through the real pages on a real SQLite store: sign in, filter, open, claim,
compose from a template, voice check, send, correct a label, change status, and safe rendering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from console.config import load_config
from console.services.auth import authenticate
from console.services.catalog import sync_config
from console.services.store import Store, open_store
from storage.enums import MentionStatus, ReplyState
from storage.models import AuditEntry, LabelFeedback, Mention, Reply, User
from tests.triage_data import PASSWORD, World, build_world

CONSOLE = Path(__file__).resolve().parents[1] / "console"
CONVERSATION = CONSOLE / "app_pages" / "conversation.py"
HOSTILE = '<script>alert("x")</script> [win a prize](https://evil.example) <img src=x onerror=alert(1)> **bold**'


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, World]]:
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    store = open_store(url, upgrade=True)
    with store.transaction() as s:
        sync_config(s, load_config())
    world = build_world(store)
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", url)
    st.cache_resource.clear()
    yield store, world
    st.cache_resource.clear()
    store.dispose()


def _page(path: Path, token: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=60)
    at.session_state["auth_token"] = token
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _token(store: Store, username: str) -> str:
    return authenticate(store, username, PASSWORD).token


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_sign_in_form_then_inbox_filter(env: tuple[Store, World]) -> None:
    at = AppTest.from_file(str(CONSOLE / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.text_input(key="signin_user").set_value("jamie")
    at.text_input(key="signin_password").set_value("wrong password")
    at.button[0].click().run()
    assert any("Wrong username or password" in e.value for e in at.error)
    at.text_input(key="signin_password").set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and [t.value for t in at.title] == ["Inbox"]
    assert at.session_state["auth_token"]
    everything = len(at.dataframe[0].value)
    at.multiselect(key="f_topic").set_value(["praise"]).run()
    assert 0 < len(at.dataframe[0].value) < everything
    at.toggle(key="f_mine").set_value(True).run()
    assert any("No mentions match" in i.value for i in at.info)


def test_open_claim_compose_from_template_voice_block_send_label_status(env: tuple[Store, World]) -> None:
    store, w = env
    m = w.mention_ids[0]
    at = _page(CONVERSATION, _token(store, "jamie"), open_mention_id=m)
    assert any("You are handling this mention" in s.value for s in at.success)
    # compose from a template
    picker = at.selectbox(key=f"tpl_pick_{m}")
    picker.select_index(next(i for i, name in enumerate(picker.options) if "Delay update" in str(name))).run()
    _button(at, "Use this reply").click().run()
    draft = at.text_area(key=f"draft_{m}").value
    assert draft.startswith("Hi User 0, sorry for the wait today.") and draft.endswith("^JK")
    # the voice check blocks a banned phrase
    at.text_area(key=f"draft_{m}").set_value("Please calm down, we are sorry. ^JK").run()
    assert any("banned phrase" in e.value for e in at.error)
    assert _button(at, "Send reply").disabled
    # send the template reply
    at.text_area(key=f"draft_{m}").set_value(draft).run()
    _button(at, "Send reply").click().run()
    assert not at.exception
    assert any("Reply queued" in s.value for s in at.success)
    # correct a label and change the status
    at.selectbox(key="fix_sentiment").set_value("neutral").run()
    _button(at, "Save label correction").click().run()
    at.selectbox(key="status_pick").set_value("pending").run()
    _button(at, "Update status").click().run()
    assert not at.exception
    with store.read() as s:
        reply = s.scalar(select(Reply).where(Reply.mention_id == m))
        assert reply is not None and reply.state is ReplyState.QUEUED and reply.text == draft
        assert reply.template_id is not None
        fb = s.scalar(select(LabelFeedback))
        assert fb is not None and (fb.old_value, fb.new_value) == ("negative", "neutral")
        assert s.get(Mention, m).status is MentionStatus.PENDING  # type: ignore[union-attr]
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"mention.claim", "reply.queued", "mention.label", "mention.status"} <= actions


def test_second_agent_sees_the_claim_and_cannot_send_until_take_over(env: tuple[Store, World]) -> None:
    store, w = env
    m = w.mention_ids[0]
    _page(CONVERSATION, _token(store, "jamie"), open_mention_id=m)
    other = _page(CONVERSATION, _token(store, "sam"), open_mention_id=m)
    assert any("jamie** is handling this mention" in x.value for x in other.warning)
    assert not [b for b in other.button if b.label == "Send reply"]
    _button(other, "Take over").click().run()
    assert any("You are handling this mention" in s.value for s in other.success)
    assert [b for b in other.button if b.label == "Send reply"]


def test_analyst_reads_but_gets_no_composer(env: tuple[Store, World]) -> None:
    store, w = env
    at = _page(CONVERSATION, _token(store, "alex"), open_mention_id=w.mention_ids[1])
    assert any("can read and export, not reply" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Send reply"]
    with store.read() as s:
        assert s.get(Mention, w.mention_ids[1]).assignee_id is None  # type: ignore[union-attr]


def test_hostile_mention_text_renders_as_text(env: tuple[Store, World]) -> None:
    store, w = env
    m = w.mention_ids[2]
    with store.transaction() as s:
        s.get(Mention, m).text = HOSTILE  # type: ignore[union-attr]
    at = _page(CONVERSATION, _token(store, "jamie"), open_mention_id=m)
    assert HOSTILE in [t.value for t in at.text], "the post is on the page as plain text (st.text: no markdown)"
    for md in [*at.markdown, *at.caption]:  # wherever else it shows (the author's history), it is escaped
        assert "<script>" not in md.value and "](https" not in md.value and "**bold**" not in md.value
    for md in at.markdown:
        assert not getattr(md.proto, "allow_html", False) or "alert" not in md.value


def test_settings_and_audit_pages_for_admin_only(env: tuple[Store, World]) -> None:
    store, _ = env
    agent = _page(CONSOLE / "app_pages" / "audit.py", _token(store, "jamie"))
    assert any("Only admins" in i.value for i in agent.info)
    admin = _page(CONSOLE / "app_pages" / "audit.py", _token(store, "admin"))
    log = admin.dataframe[0].value
    assert "auth.sign_in" in set(log["Action"])
    settings = _page(CONSOLE / "app_pages" / "settings.py", _token(store, "admin"))
    settings.number_input(key=next(k.key for k in settings.number_input if k.key.startswith("s_int_"))).set_value(120)
    _button(settings, "Save source").click().run()
    assert not settings.exception
    with store.read() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "source.update")) == "source.update"


def test_suggested_replies_use_the_sentence_encoder_on_request(env: tuple[Store, World]) -> None:
    store, w = env
    at = _page(CONVERSATION, _token(store, "jamie"), open_mention_id=w.mention_ids[0])
    assert any("past replies" in c.value for c in at.caption)
    _button(at, "Find similar past replies").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [c.value for c in at.caption] + [i.value for i in at.markdown]
    assert any("No similar past replies yet" in v or "similar to:" in v for v in shown)


def test_settings_shows_refusals_in_words_and_saves_a_template(env: tuple[Store, World]) -> None:
    store, w = env
    settings = _page(CONSOLE / "app_pages" / "settings.py", _token(store, "admin"))

    def add_user(username: str, password: str) -> list[str]:
        next(t for t in settings.text_input if t.label == "Username").set_value(username)
        next(t for t in settings.text_input if t.label == "Initial password").set_value(password)
        _button(settings, "Add user").click().run()
        assert not settings.exception, [e.value for e in settings.exception]
        return [e.value for e in settings.error]

    assert add_user("newbie", "short") == ["User: passwords need at least 8 characters"]
    assert add_user("jamie", PASSWORD) == ["User: user 'jamie' already exists"]
    settings.selectbox(key="u_pick").set_value("admin").run()
    settings.selectbox(key=f"u_role_{w.admin.id}").set_value("agent").run()
    _button(settings, "Save user").click().run()
    assert [e.value for e in settings.error] == ["User: you cannot demote or deactivate yourself; ask another admin"]
    picker = settings.selectbox(key="t_pick")
    picker.set_value(next(o for o in picker.options if "Delay update" in str(o))).run()
    body = next(t for t in settings.text_area if t.label == "Body")
    assert body.value.strip()
    body.set_value(body.value + " Thanks for bearing with us.")
    _button(settings, "Save template").click().run()
    assert not settings.exception and not settings.error
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username == "newbie")) == 0
        assert s.scalar(select(User.role).where(User.id == w.admin.id)).value == "admin"  # type: ignore[union-attr]
        saved = s.scalar(select(AuditEntry).where(AuditEntry.action == "template.save"))
    assert saved is not None and saved.after["body"].endswith("Thanks for bearing with us.")
