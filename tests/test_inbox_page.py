"""The Inbox page under AppTest on a real SQLite store: the URL drives the widgets, the widgets write the URL.

The browser journey (back button, reload, shared link) is in tests/test_browser_inbox.py; these pin the page's
own rules quickly: the URL is read on every run, a filter change writes it (and starts at page 1), the preview
shows the selected mention escaped, and a saved view is stored for its owner only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from console.config import load_config
from console.services.auth import authenticate
from console.services.catalog import sync_config
from console.services.saved_views import own_views
from console.services.store import Store, open_store
from storage.models import Mention, MentionTag
from tests.triage_data import PASSWORD, World, build_world

INBOX = Path(__file__).resolve().parents[1] / "console" / "app_pages" / "inbox.py"
HOSTILE = '<script>alert("x")</script> [win a prize](https://evil.example) **bold**'


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, World]]:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    store = open_store(url, upgrade=True)
    with store.transaction() as s:
        sync_config(s, load_config())
    world = build_world(store)  # six high-urgency mentions; even ones negative, odd ones positive
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", url)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield store, world
    st.cache_resource.clear()
    store.dispose()


def _inbox(store: Store, query: dict[str, str | list[str]] | None = None) -> AppTest:
    at = AppTest.from_file(str(INBOX), default_timeout=60)
    at.session_state["auth_token"] = authenticate(store, "jamie", PASSWORD).token
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown_ids(at: AppTest) -> list[int]:
    return [int(i) for i in at.dataframe[0].value["ID"]]


def test_the_url_sets_the_widgets_the_list_and_the_preview(env: tuple[Store, World]) -> None:
    store, w = env
    ids = w.mention_ids
    with store.transaction() as s:
        s.execute(update(Mention).where(Mention.id == ids[2]).values(text=HOSTILE))
    at = _inbox(store, {"sentiment": "negative", "sort": "oldest", "sel": str(ids[2])})
    assert at.multiselect(key="f_sentiment").value == ["negative"]
    assert at.selectbox(key="f_sort").value == "oldest"
    assert at.multiselect(key="f_status").value == ["new", "open", "pending"]  # absent from the URL: the default
    assert _shown_ids(at) == [ids[0], ids[2], ids[4]]  # negative ones, oldest first
    preview = [m.value for m in at.markdown if "alert" in m.value]
    assert preview, "the selected mention is previewed"
    for value in preview:  # untrusted text: no HTML, no link, no emphasis
        assert "<script>" not in value and "&lt;script&gt;" in value
        assert "\\[win a prize\\]\\(https" in value and "\\*\\*bold\\*\\*" in value
    assert at.query_params == {"sentiment": "negative", "sort": "oldest", "sel": str(ids[2])}  # nothing rewritten


def test_changing_a_filter_writes_the_url_keeps_the_rest_and_starts_at_page_one(env: tuple[Store, World]) -> None:
    store, w = env
    at = _inbox(store, {"sentiment": "negative", "sort": "oldest", "page": "2"})
    at.multiselect(key="f_sentiment").set_value(["positive"]).run()
    assert not at.exception
    assert at.query_params == {"sentiment": "positive", "sort": "oldest"}  # page 2 of the old filters is gone
    assert _shown_ids(at) == [w.mention_ids[1], w.mention_ids[3], w.mention_ids[5]]
    at.toggle(key="f_mine").set_value(True).run()
    assert at.query_params["assignee"] == "me"
    assert any("No mentions match" in i.value for i in at.info)


def test_a_link_with_a_bad_or_foreign_value_still_opens_an_inbox(env: tuple[Store, World]) -> None:
    store, w = env
    at = _inbox(
        store, {"urgency": ["high", "urgent"], "brand": "999", "sort": "random", "mention": str(w.mention_ids[1])}
    )
    assert at.multiselect(key="f_urgency").value == ["high"]
    assert at.multiselect(key="f_brand").value == [999]  # an unknown brand id stays asked for (and matches nothing)
    assert any("No mentions match" in i.value for i in at.info)
    at.multiselect(key="f_brand").set_value([]).run()
    assert _shown_ids(at) == w.mention_ids
    # the junk is dropped from the URL, and a stray ``mention=`` became the selection
    assert at.query_params == {"urgency": "high", "sel": str(w.mention_ids[1])}


def test_save_this_view_stores_it_for_its_owner(env: tuple[Store, World]) -> None:
    store, w = env
    at = _inbox(store, {"sentiment": "negative", "sort": "due", "page": "2", "sel": str(w.mention_ids[0])})
    at.text_input(key="view_name").set_value("  Angry, soonest due ")
    next(b for b in at.button if b.label == "Save view").click().run()
    assert not at.exception and not at.error
    with store.read() as s:
        assert [(v.name, v.query) for v in own_views(s, w.agent)] == [
            ("Angry, soonest due", "sentiment=negative&sort=due")
        ]
        assert own_views(s, w.other_agent) == []
    assert at.session_state["inbox_view_pick"] == "Angry, soonest due"  # the new view is the one shown


def test_bulk_actions_show_a_refusal_in_words_and_apply_the_rest(env: tuple[Store, World]) -> None:
    store, w = env
    picked = w.mention_ids[:2]
    at = _inbox(store, {"sel": [str(i) for i in picked]})
    at.text_input(key="bulk_tag").set_value("x" * 65).run()
    next(b for b in at.button if b.label == "Add tag").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["Add tag: a tag needs 1 to 64 characters"]
    next(b for b in at.button if b.label == "Assign").click().run()  # "(unassign)": taking work off others
    assert [e.value for e in at.error] == ["Assign: jamie (agent) may not reassign; allowed for: manager, admin"]
    at.selectbox(key="bulk_who").set_value("jamie").run()  # an agent may assign only to themself
    next(b for b in at.button if b.label == "Assign").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with store.read() as s:
        assert {s.get(Mention, i).assignee_id for i in picked} == {w.agent.id}  # type: ignore[union-attr]
        assert not s.scalars(select(MentionTag)).all()
