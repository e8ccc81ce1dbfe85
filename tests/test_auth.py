"""Sign-in, sessions, throttling, roles and the audit log, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from console.config import load_config
from console.services import audit
from console.services.auth import (
    SignInError,
    SignInThrottled,
    authenticate,
    required_wait,
    resolve_session,
    sign_out,
    token_hash,
)
from console.services.permissions import Permission, PermissionDenied, require
from console.services.settings import SettingsError, add_user, settings_overview, update_user
from console.services.store import Store
from storage.enums import Role
from storage.models import AuditEntry, AuthSession, User
from tests.triage_data import PASSWORD, build_world

T = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_sign_in_opens_a_session_stored_only_as_a_hash(store: Store) -> None:
    build_world(store)
    signed = authenticate(store, "jamie", PASSWORD, now=T)
    assert signed.actor.username == "jamie" and signed.actor.role is Role.AGENT
    with store.read() as s:
        stored = s.scalars(select(AuthSession.token_hash)).all()
        assert stored == [token_hash(signed.token)] and signed.token not in stored
        assert resolve_session(s, signed.token, now=T + timedelta(hours=1)) == signed.actor
        assert resolve_session(s, signed.token, now=T + timedelta(days=8)) is None  # expired
        assert resolve_session(s, "forged-token", now=T) is None
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "auth.sign_in" in actions


def test_sign_out_revokes_the_session(store: Store) -> None:
    build_world(store)
    signed = authenticate(store, "jamie", PASSWORD, now=T)
    with store.transaction() as s:
        sign_out(s, signed.token, now=T)
    with store.read() as s:
        assert resolve_session(s, signed.token, now=T) is None
        assert s.scalar(select(func.count()).where(AuditEntry.action == "auth.sign_out")) == 1


def test_wrong_password_is_refused_and_recorded(store: Store) -> None:
    build_world(store)
    with pytest.raises(SignInError, match="wrong username or password"):
        authenticate(store, "jamie", "not the password", now=T)
    with pytest.raises(SignInError, match="wrong username or password"):
        authenticate(store, "nobody", "whatever123", now=T)
    with store.read() as s:
        failed = s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "auth.sign_in_failed")).all()
        assert failed == ["anonymous:jamie", "anonymous:nobody"]
        assert s.scalar(select(User.failed_logins).where(User.username == "jamie")) == 1


def test_repeated_failures_slow_sign_in_down_even_with_the_right_password(store: Store) -> None:
    build_world(store)
    for i in range(3):
        with pytest.raises(SignInError):
            authenticate(store, "jamie", f"guess-{i}", now=T + timedelta(seconds=i))
    # after three failures in a row, the next try must wait; the password is not even checked
    with pytest.raises(SignInThrottled) as throttled:
        authenticate(store, "jamie", PASSWORD, now=T + timedelta(seconds=3))
    assert "try again in" in str(throttled.value)
    assert throttled.value.retry_in <= required_wait(3)
    # each further failure doubles the wait
    with pytest.raises(SignInError):
        authenticate(store, "jamie", "guess-4", now=T + timedelta(seconds=8))
    with pytest.raises(SignInThrottled) as longer:
        authenticate(store, "jamie", PASSWORD, now=T + timedelta(seconds=9))
    assert longer.value.retry_in > timedelta(seconds=8)
    # once the wait is over, the right password works and resets the count
    ok = authenticate(store, "jamie", PASSWORD, now=T + timedelta(seconds=8) + required_wait(4))
    assert ok.actor.username == "jamie"
    with store.read() as s:
        assert s.scalar(select(User.failed_logins).where(User.username == "jamie")) == 0


def test_throttling_applies_to_unknown_usernames_too(store: Store) -> None:
    for i in range(3):
        with pytest.raises(SignInError):
            authenticate(store, "ghost", f"pw-{i}", now=T)
    with pytest.raises(SignInThrottled):
        authenticate(store, "ghost", "pw-x", now=T + timedelta(seconds=1))


def test_deactivated_user_cannot_sign_in_and_loses_sessions(store: Store) -> None:
    world = build_world(store)
    signed = authenticate(store, "sam", PASSWORD, now=T)
    with store.transaction() as s:
        update_user(s, world.admin, world.other_agent.id, active=False)
    with store.read() as s:
        assert resolve_session(s, signed.token, now=T) is None
    with pytest.raises(SignInError):
        authenticate(store, "sam", PASSWORD, now=T + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.AGENT, {Permission.READ, Permission.TRIAGE, Permission.REPLY}),
        (
            Role.MANAGER,
            {
                Permission.READ,
                Permission.TRIAGE,
                Permission.REPLY,
                Permission.REASSIGN,
                Permission.DASHBOARDS,
                Permission.EXPORT,
            },
        ),
        (Role.ANALYST, {Permission.READ, Permission.EXPORT, Permission.DASHBOARDS}),
        (Role.ADMIN, set(Permission)),
    ],
)
def test_role_permissions(role: Role, allowed: set[Permission]) -> None:
    from console.services.permissions import Actor

    actor = Actor(1, "someone", role)
    for permission in Permission:
        if permission in allowed:
            assert require(actor, permission) is actor
        else:
            with pytest.raises(PermissionDenied, match=permission.value):
                require(actor, permission)


def test_only_admins_manage_users_and_browse_the_audit_log(store: Store) -> None:
    world = build_world(store)
    with store.transaction() as s:
        with pytest.raises(PermissionDenied):
            add_user(s, world.manager, "eve", "long enough pw", Role.ADMIN)
        with pytest.raises(PermissionDenied):
            audit.browse(s, world.agent, audit.AuditFilters())
        with pytest.raises(SettingsError, match="role: 'owner' is not one of agent"):
            add_user(s, world.admin, "eve", "long enough pw", "owner")
        with pytest.raises(PermissionDenied):
            settings_overview(s, world.manager, load_config())
        add_user(s, world.admin, "newbie", "long enough pw", Role.AGENT, "New Bie")
    with store.read() as s:
        rows, total = audit.browse(s, world.admin, audit.AuditFilters(actions=["user.create"]))
    assert total == 1 and rows[0].after == {"username": "newbie", "role": "agent"}
    assert rows[0].actor == "user:admin"


def test_audit_rows_cannot_be_edited_or_deleted(store: Store) -> None:
    world = build_world(store)
    with store.transaction() as s:
        audit.record(s, world.agent, "mention.claim", "mention", 1, after={"assignee": "jamie"})
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as s:
            s.execute(text(statement))
    with store.read() as s:
        assert s.scalar(select(AuditEntry.actor)) == "user:jamie"


def test_audit_browse_filters_by_actor_entity_and_time(store: Store) -> None:
    world = build_world(store)
    with store.transaction() as s:
        audit.record(s, world.agent, "mention.claim", "mention", 11)
        audit.record(s, world.other_agent, "mention.claim", "mention", 12)
        audit.record(s, world.admin, "settings.change", "setting", "voice.rules")
    with store.read() as s:
        by_actor, _ = audit.browse(s, world.admin, audit.AuditFilters(actor="sam"))
        by_entity, _ = audit.browse(s, world.admin, audit.AuditFilters(entity_type="mention", entity_id="11"))
        future, n = audit.browse(s, world.admin, audit.AuditFilters(since=datetime.now(UTC) + timedelta(days=1)))
    assert [e.entity_id for e in by_actor] == ["12"]
    assert [e.actor for e in by_entity] == ["user:jamie"]
    assert future == [] and n == 0


def test_user_add_command_creates_a_user_with_a_prompted_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.cli import cli
    from console.services.store import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["user", "add", "riley", "--role", "manager", "--database-url", url], input="s3cret-pass\ns3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert "created manager riley" in result.output
    again = runner.invoke(
        cli,
        ["user", "add", "riley", "--role", "agent", "--database-url", url, "--password-stdin"],
        input="other-pass-123\n",
    )
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(
        cli, ["user", "add", "kit", "--role", "agent", "--database-url", url, "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least 8" in short.output
    store = open_store(url)
    authenticate(store, "riley", "s3cret-pass")
    with store.read() as s:
        assert s.scalar(select(User.role).where(User.username == "riley")) is Role.MANAGER
    store.dispose()
