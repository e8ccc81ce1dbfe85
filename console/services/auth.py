"""Sign-in, sessions and sign-out.

Passwords are checked against argon2 hashes (``console.services.users``).  A browser keeps only a
random token in a cookie; the store keeps its SHA-256, so a leaked database cannot be replayed as
a cookie.

Guessing is throttled in the database, so the limits hold whatever the UI does and across console
replicas (docs/sign-in.md explains the design).  Each attempt is *reserved* first: one short
transaction takes the throttle lock, checks the overall, per-address and per-username limits and
records the attempt as a failure.  Only then is argon2 run, outside any transaction, and a success
turns the recorded failure into a success.  So however many attempts arrive at once, no more
passwords are checked than the limits allow, and a request killed mid-check still counts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from console.config import SecurityConfig, SignInLimits, load_config
from console.services import audit
from console.services.errors import ServiceError
from console.services.permissions import Actor
from console.services.store import Store
from console.services.users import hash_password, password_matches
from storage.models import AuthSession, LoginAttempt, SignInThrottle, User

log = logging.getLogger(__name__)

SESSION_COOKIE = "mentiondesk_session"
MAX_USERNAME_CHARS = 80
"""The ``users.username`` and ``login_attempts.username`` column length."""
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often per session, so page runs rarely write."""
THROTTLE_SCOPE = "sign_in"
UNPARSEABLE_ADDRESS = "unparseable"
IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is counted by its /64: one subscriber usually gets a whole /64 to pick from."""
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")

Limit = Literal["username", "address", "overall"]
_FAILED = LoginAttempt.succeeded.is_(False)


class SignInError(ServiceError, ValueError):
    """Wrong username or password (deliberately not saying which)."""


class SignInThrottled(SignInError):  # noqa: N818 - reads as a state, like PermissionDenied
    """Too many failures: the next attempt is allowed only after ``retry_in``; ``limit`` says which limit."""

    def __init__(self, retry_in: timedelta, limit: Limit = "username") -> None:
        self.retry_in = retry_in
        self.limit = limit
        seconds = max(1, int(retry_in.total_seconds() + 0.999))
        super().__init__(f"too many failed sign-ins; try again in {seconds} s")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the actor, and the token to put in the cookie (shown once, never stored)."""

    actor: Actor
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class _Reservation:
    """An attempt recorded as a failure before its password is checked."""

    attempt_id: int
    username: str
    address: str
    user_id: int | None
    password_hash: str


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_address(raw: str | None) -> str:
    """The key a client address is counted under: "" when unknown or local, an IPv6 client by its /64."""
    text = (raw or "").strip()
    if not text:
        return ""
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.5:4711"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return UNPARSEABLE_ADDRESS  # all junk shares one bucket: a forger only throttles other forgers
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def required_wait(failures: int, limits: SignInLimits | None = None) -> timedelta:
    """No wait for the first few failures, then 5 s, 10 s, 20 s... up to ``max_wait`` (defaults shown)."""
    limits = limits or SignInLimits()
    if failures < limits.free_failures:
        return timedelta(0)
    seconds = limits.first_wait.total_seconds() * 2.0 ** min(failures - limits.free_failures, 62)
    return limits.max_wait if seconds >= limits.max_wait.total_seconds() else timedelta(seconds=seconds)


def _streak_cap(limits: SignInLimits) -> int:
    """Failures beyond this many in a row no longer lengthen the wait, so there is no need to read them."""
    n = limits.free_failures
    while required_wait(n, limits) < limits.max_wait and n < limits.free_failures + 62:
        n += 1
    return n


def _failures_in_a_row(
    session: Session, username: str, address: str, limits: SignInLimits, now: datetime
) -> tuple[int, datetime | None]:
    """Failures of this username from this address since its last success, and when the latest was.

    A streak also ends after ``max_wait + window`` without a failure: someone who forgot their
    password yesterday starts afresh, while an attacker retrying at every capped wait never does.
    """
    rows = session.execute(
        select(LoginAttempt.succeeded, LoginAttempt.at)
        .where(LoginAttempt.username == username, LoginAttempt.client_address == address)
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
        .limit(_streak_cap(limits) + 1)
    ).all()
    quiet = limits.max_wait + limits.window
    count, later = 0, now
    for succeeded, at in rows:
        if succeeded or later - at > quiet:
            break
        count, later = count + 1, at
    return count, (rows[0][1] if count else None)


def _window_wait(
    session: Session, conditions: list[ColumnElement[bool]], limit: int, window: timedelta, now: datetime
) -> timedelta | None:
    """How long until fewer than ``limit`` failures match within the sliding ``window``; None if already so."""
    where = [*conditions, _FAILED, LoginAttempt.at > now - window]
    count = session.scalar(select(func.count()).select_from(LoginAttempt).where(*where)) or 0
    if count < limit:
        return None
    frees_a_slot = session.scalar(
        select(LoginAttempt.at).where(*where).order_by(LoginAttempt.at, LoginAttempt.id).offset(count - limit).limit(1)
    )
    return (frees_a_slot or now) + window - now


def _signed_in_before(session: Session, username: str, address: str, since: datetime) -> bool:
    """Whether this username signed in successfully from this address since ``since``."""
    return (
        session.scalar(
            select(LoginAttempt.id)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.client_address == address,
                LoginAttempt.succeeded.is_(True),
                LoginAttempt.at > since,
            )
            .limit(1)
        )
        is not None
    )


def _refusal(
    session: Session, username: str, address: str, security: SecurityConfig, now: datetime
) -> SignInThrottled | None:
    """The first limit this attempt would break, checked widest first; refused attempts are never counted."""
    limits = security.sign_in
    wait = _window_wait(session, [], limits.overall, limits.window, now)
    if wait is not None and not _signed_in_before(session, username, address, now - security.session_lifetime):
        return SignInThrottled(wait, "overall")
    wait = _window_wait(session, [LoginAttempt.client_address == address], limits.per_address, limits.window, now)
    if wait is not None:
        return SignInThrottled(wait, "address")
    failures, last = _failures_in_a_row(session, username, address, limits, now)
    if last is not None and now < last + required_wait(failures, limits):
        return SignInThrottled(last + required_wait(failures, limits) - now, "username")
    return None


def _take_throttle_lock(session: Session, now: datetime) -> None:
    """Serialise reservations: an upsert row-locks on PostgreSQL, and as a first write takes SQLite's write lock."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(SignInThrottle).values(scope=THROTTLE_SCOPE, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SignInThrottle.scope], set_={"updated_at": statement.excluded.updated_at}
        )
    )


def _reserve(store: Store, username: str, address: str, security: SecurityConfig, now: datetime) -> _Reservation:
    """Check every limit and record the attempt as a failure, atomically; raises SignInThrottled."""
    with store.read() as session:  # a lock-free first look, so a flood of refused attempts never queues
        _refuse_if_throttled(session, username, address, security, now)
    with store.transaction() as session:
        _take_throttle_lock(session, now)  # must stay the transaction's first statement (SQLite)
        _refuse_if_throttled(session, username, address, security, now)  # raising rolls the lock back
        attempt = LoginAttempt(username=username, client_address=address, at=now, succeeded=False)
        session.add(attempt)
        user = session.scalar(select(User).where(User.username == username))
        session.flush()
        password_hash = user.password_hash if user else _DUMMY_HASH
        return _Reservation(attempt.id, username, address, user.id if user else None, password_hash)


def _refuse_if_throttled(
    session: Session, username: str, address: str, security: SecurityConfig, now: datetime
) -> None:
    refusal = _refusal(session, username, address, security, now)
    if refusal is not None:
        log.info("sign-in refused by the %s limit for %r from %r", refusal.limit, username, address or "local")
        raise refusal


def _checked_input(username: str, password: str) -> str:
    """The stripped username; input no account could have is refused before it reaches the database."""
    name = username.strip()
    unusable = not name or len(name) > MAX_USERNAME_CHARS or any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    if unusable or any(unicodedata.category(c) == "Cs" for c in password):  # lone surrogates cannot be UTF-8
        raise SignInError("wrong username or password")
    return name


def authenticate(
    store: Store,
    username: str,
    password: str,
    *,
    client_address: str | None = None,
    security: SecurityConfig | None = None,
    now: datetime | None = None,
) -> SignedIn:
    """Check the password and open a session, in three short transactions around argon2.

    ``client_address`` is the address the console saw (None when local); ``security`` defaults to
    the config file's ``[security]``.

    Raises:
        SignInThrottled: A limit is reached; the password was not checked and the attempt not counted.
        SignInError: Unknown user, inactive user, wrong password or unusable input.
    """
    now = now or datetime.now(UTC)
    security = security if security is not None else load_config().security
    reservation = _reserve(store, _checked_input(username, password), normalise_address(client_address), security, now)
    matches = password_matches(reservation.password_hash, password)  # same cost for unknown users
    with store.transaction() as session:
        user = session.get(User, reservation.user_id) if reservation.user_id is not None else None
        if matches and user is not None and user.is_active:
            return _open_session(session, user, reservation, security, now)
        _record_failure(session, user, reservation, security.sign_in, now)
    raise SignInError("wrong username or password")


def _open_session(
    session: Session, user: User, reservation: _Reservation, security: SecurityConfig, now: datetime
) -> SignedIn:
    session.execute(update(LoginAttempt).where(LoginAttempt.id == reservation.attempt_id).values(succeeded=True))
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    expires = now + security.session_lifetime
    session.add(
        AuthSession(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires, last_seen_at=now)
    )
    actor = Actor.of(user)
    audit.record(session, actor, "auth.sign_in", "user", user.id, after={"session_expires_at": expires.isoformat()})
    return SignedIn(actor, token, expires)


def _record_failure(
    session: Session, user: User | None, reservation: _Reservation, limits: SignInLimits, now: datetime
) -> None:
    failures, _ = _failures_in_a_row(session, reservation.username, reservation.address, limits, now)
    wait = required_wait(failures, limits)
    if user is not None:
        user.failed_logins = failures
        user.locked_until = now + wait if wait else None
    audit.record(
        session,
        None,
        "auth.sign_in_failed",
        "user",
        user.id if user else None,
        after={
            "username": reservation.username,
            "client_address": reservation.address or "local",
            "failures_in_a_row": failures,
        },
        actor_label=f"anonymous:{reservation.username[:60]}",
    )


def resolve_session(
    session: Session, token: str | None, *, now: datetime | None = None, idle_timeout: timedelta | None = None
) -> Actor | None:
    """The actor behind a cookie token, or None if unknown, expired, idle too long, revoked or deactivated.

    A session unused for longer than ``idle_timeout`` (default: the config's
    ``security.session_idle_timeout``) is over.  Each use is noted in ``last_seen_at``, at most once
    per :data:`TOUCH_EVERY`; the caller commits (in a read-only session the idle clock does not move).
    """
    if not token:
        return None
    now = now or datetime.now(UTC)
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    auth, user = row
    idle = idle_timeout if idle_timeout is not None else load_config().security.session_idle_timeout
    if auth.revoked_at is not None or auth.expires_at <= now or now - auth.last_seen_at > idle or not user.is_active:
        return None
    if now - auth.last_seen_at >= TOUCH_EVERY:
        auth.last_seen_at = now
    return Actor.of(user)


def sign_out(session: Session, token: str | None, *, now: datetime | None = None) -> None:
    """Revoke the session behind ``token`` (the cookie alone is then worthless)."""
    if not token:
        return
    now = now or datetime.now(UTC)
    auth = session.scalar(select(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    if auth is None or auth.revoked_at is not None:
        return
    auth.revoked_at = now
    user = session.get(User, auth.user_id)
    actor = Actor.of(user) if user else None
    audit.record(session, actor, "auth.sign_out", "user", auth.user_id)


def revoke_all(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """End every session of a user (deactivation, password or role change); returns how many."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
