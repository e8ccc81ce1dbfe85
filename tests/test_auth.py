"""Sign-in, sessions, throttling, roles and the audit log, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from console.config import SecurityConfig, SignInLimits, load_config
from console.services import audit
from console.services.auth import (
    SignInError,
    SignInThrottled,
    authenticate,
    normalise_address,
    required_wait,
    resolve_session,
    sign_out,
    token_hash,
)
from console.services.permissions import Permission, PermissionDenied, require
from console.services.settings import SettingsError, add_user, settings_overview, update_user
from console.services.store import Store
from console.services.users import create_user
from console.ui.auth_gate import cookie_options, pick_client_address
from storage.enums import Role
from storage.models import AuditEntry, AuthSession, LoginAttempt, User
from tests.triage_data import PASSWORD, build_world

T = datetime(2026, 11, 20, 9, tzinfo=UTC)
DEFAULTS = SecurityConfig()


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


def test_the_wait_doubles_and_is_capped_however_many_failures() -> None:
    limits = DEFAULTS.sign_in
    waits = [required_wait(n, limits) for n in (2, 3, 4, 5)]
    assert waits == [timedelta(0), timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    assert required_wait(10**6, limits) == limits.max_wait  # no overflow, never past the cap


def test_a_streak_of_failures_is_forgotten_after_a_quiet_spell(store: Store) -> None:
    limits = SignInLimits.model_validate({"free_failures": 1, "first_wait": "5s", "max_wait": "60s", "window": "60s"})
    security = SecurityConfig(sign_in=limits)
    for at in (T, T + timedelta(seconds=5), T + timedelta(seconds=15)):  # each as soon as allowed
        with pytest.raises(SignInError) as failed:
            authenticate(store, "ghost", "pw", security=security, now=at)
        assert not isinstance(failed.value, SignInThrottled)
    with pytest.raises(SignInThrottled) as third:
        authenticate(store, "ghost", "pw", security=security, now=T + timedelta(seconds=16))
    assert third.value.retry_in == timedelta(seconds=19)  # 20 s after the third failure
    quiet = T + timedelta(seconds=15) + limits.max_wait + limits.window + timedelta(seconds=1)
    with pytest.raises(SignInError):
        authenticate(store, "ghost", "pw", security=security, now=quiet)
    with pytest.raises(SignInThrottled) as fresh:  # counted as the first of a new streak: 5 s, not 40 s
        authenticate(store, "ghost", "pw", security=security, now=quiet + timedelta(seconds=1))
    assert fresh.value.retry_in == timedelta(seconds=4)


def test_sign_in_limits_come_from_the_config_file(store: Store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "mentiondesk.toml"
    config.write_text('[security.sign_in]\nfree_failures = 1\nfirst_wait = "1m"\n', encoding="utf-8")
    monkeypatch.setenv("MENTIONDESK_CONFIG", str(config))
    with pytest.raises(SignInError):
        authenticate(store, "ghost", "pw-1", now=T)
    with pytest.raises(SignInThrottled) as throttled:
        authenticate(store, "ghost", "pw-2", now=T + timedelta(seconds=1))
    assert throttled.value.retry_in == timedelta(seconds=59)


@pytest.mark.parametrize(
    "username",
    ["x" * 81, "ja\x00mie", "ja\nmie", "\x1b[31madmin", "ad\ud800min", "   "],
    ids=["81 chars", "NUL", "newline", "escape", "lone surrogate", "blank"],
)
def test_unusable_usernames_are_refused_in_words_before_the_database(store: Store, username: str) -> None:
    with pytest.raises(SignInError, match="^wrong username or password$") as refused:
        authenticate(store, username, "whatever", security=DEFAULTS, now=T)
    assert not isinstance(refused.value, SignInThrottled)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_the_longest_username_and_an_unencodable_password_are_handled(store: Store) -> None:
    with pytest.raises(SignInError):
        authenticate(store, "y" * 80, "whatever", security=DEFAULTS, now=T)
    with pytest.raises(SignInError):
        authenticate(store, "jamie", "pass\udfffword", security=DEFAULTS, now=T)
    with store.read() as s:
        assert s.scalars(select(LoginAttempt.username)).all() == ["y" * 80]


def test_an_idle_session_ends_and_each_use_keeps_it_alive(store: Store) -> None:
    with store.transaction() as s:
        create_user(s, "jamie", PASSWORD, Role.AGENT)
    idle = timedelta(hours=8)
    signed = authenticate(store, "jamie", PASSWORD, security=DEFAULTS, now=T)
    unused = authenticate(store, "jamie", PASSWORD, security=DEFAULTS, now=T)

    def use(token: str, at: datetime) -> bool:
        with store.transaction() as s:
            return resolve_session(s, token, now=at, idle_timeout=idle) is not None

    def last_seen(token: str) -> datetime:
        with store.read() as s:
            return s.execute(
                select(AuthSession.last_seen_at).where(AuthSession.token_hash == token_hash(token))
            ).scalar_one()

    assert use(signed.token, T + timedelta(hours=7)) and last_seen(signed.token) == T + timedelta(hours=7)
    assert use(signed.token, T + timedelta(hours=7, seconds=30))
    assert last_seen(signed.token) == T + timedelta(hours=7)  # written at most once a minute
    assert use(signed.token, T + timedelta(hours=14))  # 7 h after it was last used: still alive
    assert not use(unused.token, T + idle + timedelta(seconds=1))  # untouched since sign-in: over
    for at, alive in ((T + timedelta(hours=21, minutes=59), True), (T + timedelta(hours=22, seconds=1), False)):
        with store.read() as s:  # the default comes from the config (8 h); a read-only look does not touch
            assert (resolve_session(s, signed.token, now=at) is not None) is alive


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (None, ""),
        ("  ", ""),
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5:4711", "203.0.113.5"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),
        ("<script>", "unparseable"),
    ],
)
def test_client_addresses_are_counted_by_a_normalised_key(raw: str | None, key: str) -> None:
    assert normalise_address(raw) == key


def test_x_forwarded_for_is_trusted_only_as_far_as_the_configured_proxies() -> None:
    forged_then_real = "6.6.6.6, 203.0.113.5"
    assert pick_client_address("10.0.0.2", forged_then_real, 0) == "10.0.0.2"  # the default: never trusted
    assert pick_client_address(None, forged_then_real, 1) == "203.0.113.5"  # what our one proxy saw
    assert pick_client_address(None, f"{forged_then_real}, 10.0.0.3", 2) == "203.0.113.5"
    assert pick_client_address("10.0.0.2", None, 1) == "10.0.0.2"


def test_the_cookie_is_as_strict_as_a_script_may_set_it() -> None:
    expires = (T + timedelta(days=7)).isoformat()
    assert cookie_options(expires, secure=True) == {
        "path": "/",
        "expires": expires,
        "sameSite": "strict",
        "secure": True,
    }
    assert cookie_options(expires, secure=False) == {"path": "/", "expires": expires, "sameSite": "strict"}


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


@pytest.mark.parametrize("interval", [10, 86_401, 10**23])
def test_a_source_interval_from_settings_is_bounded_like_the_config(sqlite_store: Store, interval: int) -> None:
    """The Settings page must not store what `config check` refuses: 10**23 s used to crash the worker later."""
    from console.services.settings import update_source
    from storage.models import Source

    world = build_world(sqlite_store)
    with sqlite_store.transaction() as s:
        source = Source(name="bounded", platform="demo", kind="demo", interval_s=60)
        s.add(source)
        s.flush()
        with pytest.raises(SettingsError, match="interval: must be from 15 s to 86,400 s"):
            update_source(s, world.admin, source.id, interval_s=interval)
        update_source(s, world.admin, source.id, interval_s=86_400)
        assert source.interval_s == 86_400
