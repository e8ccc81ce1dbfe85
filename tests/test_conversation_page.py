"""The Conversation page in AppTest on a seeded store: whole threads, takeovers, notes and the activity feed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased
from streamlit.testing.v1 import AppTest

from console.config import load_config
from console.services import triage
from console.services.auth import authenticate
from console.services.demo_seed import demo_password, seed_demo
from console.services.permissions import Actor
from console.services.replies.drafts import draft_of
from console.services.store import Store, open_store
from console.ui.safe import visible
from storage.enums import ReplyState
from storage.models import Mention, Reply, User

PAGE = Path(__file__).resolve().parents[1] / "console" / "app_pages" / "conversation.py"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("conversation") / "demo.db"
    store = open_store(f"sqlite:///{path}", upgrade=True)
    seed_demo(store, load_config(), mentions=600, seed=5, now=datetime(2026, 11, 20, 12, tzinfo=UTC))
    store.dispose()
    return f"sqlite:///{path}"


@pytest.fixture
def store(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", demo_url)
    st.cache_resource.clear()
    s = open_store(demo_url)
    yield s
    s.dispose()
    st.cache_resource.clear()


def _token(store: Store, username: str) -> str:
    return authenticate(store, username, demo_password(username)).token


def _open(store: Store, username: str, mention_id: int) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["auth_token"] = _token(store, username)
    at.query_params["mention"] = str(mention_id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [t.value for t in at.text]  # the thread's posts: plain text
    return "\n".join(str(p) for p in parts) + "\n".join(str(c.value) for c in at.code)


def _actor(store: Store, username: str) -> Actor:
    with store.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return Actor.of(user)


def test_the_thread_shows_the_brands_reply_sent_on_the_parent_post(store: Store) -> None:
    parent = aliased(Mention)
    with store.read() as session:
        later, reply_text = session.execute(
            select(Mention.id, Reply.text)
            .join(
                parent,
                and_(
                    parent.platform == Mention.platform,
                    parent.conversation_id == Mention.conversation_id,
                    parent.id != Mention.id,
                ),
            )
            .join(Reply, Reply.mention_id == parent.id)
            .where(Reply.state == ReplyState.SENT, Mention.is_brand_post.is_(False), Mention.created_at > Reply.sent_at)
            .order_by(Mention.id)
        ).first()
    at = _open(store, "alex", later)  # an analyst: reads without claiming
    text = _texts(at)
    assert "our reply" in text and "✅ sent" in text and "on an earlier post" in text
    assert visible(reply_text) in text


def test_a_takeover_tells_the_first_agent_and_keeps_their_draft(store: Store) -> None:
    with store.read() as session:
        mention_id = session.scalar(
            select(Mention.id)
            .where(
                Mention.replyable.is_(True),
                Mention.is_brand_post.is_(False),
                Mention.assignee_id.is_(None),
                Mention.status == "new",
            )
            .order_by(Mention.id)
        )
    assert mention_id is not None
    jamie = _open(store, "jamie", mention_id)
    assert any("You are handling this mention" in s.value for s in jamie.success)
    box = next(t for t in jamie.text_area if t.label == "Reply")
    box.set_value("Hi there, so sorry about this, we are on it. ^JK").run()
    with store.transaction() as session:
        triage.take_over(session, _actor(store, "priya"), mention_id)
    jamie.run()  # jamie's next interaction
    assert not jamie.exception
    notice = " ".join(w.value for w in jamie.warning)
    assert "priya" in notice and "took over at" in notice and "draft is kept" in notice
    assert any("we are on it" in c.value for c in jamie.code)
    with store.read() as session:
        kept = draft_of(session, _actor(store, "jamie"), mention_id)
        assert kept is not None and "we are on it" in kept.text


def test_notes_show_their_author_and_the_activity_reads_in_words(store: Store) -> None:
    with store.read() as session:
        mention_id = session.scalar(
            select(Mention.id)
            .where(
                Mention.replyable.is_(True),
                Mention.is_brand_post.is_(False),
                Mention.assignee_id.is_(None),
                Mention.status == "new",
            )
            .order_by(Mention.id.desc())
        )
    assert mention_id is not None
    at = _open(store, "jamie", mention_id)
    at.text_area(key=f"note_body_{mention_id}_0").set_value("Customer called twice; refund approved by Maya.")
    at.button[[b.label for b in at.button].index("Add note")].click().run()
    assert not at.exception
    text = _texts(at)
    assert "**Jamie Kowalski**" in text and "refund approved by Maya" in text
    assert "Jamie claimed it" in text and "Jamie added a note" in text
    assert "{'note_id'" not in text
    assert at.text_area(key=f"note_body_{mention_id}_1").value == ""  # a fresh, empty box after saving
