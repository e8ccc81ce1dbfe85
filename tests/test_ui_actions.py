"""The pages' one refusal helper: every service refusal is a ServiceError, shown in words; anything else raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from console.config import load_config
from console.services.auth import SignInError, SignInThrottled
from console.services.catalog import sync_config
from console.services.errors import ServiceError
from console.services.escalations import EscalationError
from console.services.permissions import PermissionDenied, SignInRequired
from console.services.replies.composer import TemplateError
from console.services.replies.outbox import OutboxError
from console.services.replies.send import ClaimedByOtherError, NeedsConfirmation, VoiceCheckFailed
from console.services.saved_views import SavedViewError
from console.services.settings import SettingsError
from console.services.store import open_store
from console.services.triage import TriageError
from console.services.users import PasswordTooShortError, UserExistsError
from storage.models import AuditEntry, Source
from tests.triage_data import World, build_world

REFUSALS = [
    PermissionDenied,
    SignInRequired,
    SignInError,
    SignInThrottled,
    TriageError,
    OutboxError,
    ClaimedByOtherError,
    VoiceCheckFailed,
    NeedsConfirmation,
    SettingsError,
    UserExistsError,
    PasswordTooShortError,
    TemplateError,
    EscalationError,
    SavedViewError,
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda cls: cls.__name__)
def test_every_refusal_a_page_shows_is_a_service_error(refusal: type[Exception]) -> None:
    assert issubclass(refusal, ServiceError)


def _page(url: str, actor_id: int | None, action: str, source_id: int = 0) -> None:
    """A page that runs one service call through the helpers (the script AppTest runs)."""
    import streamlit as st

    from console.services.permissions import Actor
    from console.services.settings import update_source
    from console.services.store import open_store
    from console.ui.actions import run_action, shown_refusals
    from storage.enums import Role

    store = open_store(url)
    actor = None if actor_id is None else Actor(actor_id, "jamie", Role.AGENT)
    if action == "update_source":
        done = run_action("Source", store, update_source, actor, source_id, interval_s=600, rerun=False)
        st.write(f"done: {done}")
    elif action == "bug":
        with shown_refusals("Source"):
            raise RuntimeError("a bug, not a refusal")
    st.write("after the action")


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, World]:
    url = f"sqlite:///{tmp_path / 'actions.db'}"
    store = open_store(url, upgrade=True)
    with store.transaction() as s:
        sync_config(s, load_config())
    world = build_world(store)
    store.dispose()
    return url, world


def _run(url: str, actor_id: int | None, action: str, source_id: int = 0) -> AppTest:
    at = AppTest.from_function(_page, args=(url, actor_id, action, source_id), default_timeout=30)
    return at.run()


def test_a_non_admin_changing_a_source_sees_the_refusal_and_nothing_changes(world: tuple[str, World]) -> None:
    url, w = world
    store = open_store(url)
    with store.read() as s:
        before = s.scalars(select(Source).order_by(Source.id)).first()
        assert before is not None and before.interval_s != 600
    at = _run(url, w.agent.id, "update_source", before.id)
    assert not at.exception
    assert [e.value for e in at.error] == ["Source: jamie (agent) may not admin; allowed for: admin"]
    assert [m.value for m in at.markdown] == ["done: False", "after the action"]
    with store.read() as s:
        assert s.get(Source, before.id).interval_s == before.interval_s  # type: ignore[union-attr]
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "source.update")) is None
    store.dispose()


def test_no_one_signed_in_is_told_to_sign_in(world: tuple[str, World]) -> None:
    url, _ = world
    at = _run(url, None, "update_source")
    assert [e.value for e in at.error] == ["Source: sign in first"]


def test_a_bug_is_not_shown_as_a_refusal(world: tuple[str, World]) -> None:
    url, w = world
    at = _run(url, w.agent.id, "bug")
    assert not at.error
    assert [e.value for e in at.exception] and not at.exception[0].stack_trace  # raised, shown without details
    assert "a bug, not a refusal" not in at.exception[0].value  # client.showErrorDetails = "none"
    assert "after the action" not in [m.value for m in at.markdown]
