"""Sign-in, sessions and sign-out.

Passwords are checked against argon2 hashes (``console.services.users``).  A browser keeps only a
random token in a cookie; the store keeps its SHA-256, so a leaked database cannot be replayed as
a cookie.  Repeated failures for one username are slowed down with an exponential wait that is
enforced here, before the password is even checked, so guessing is throttled whatever the UI does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console.services import audit
from console.services.errors import ServiceError
from console.services.permissions import Actor
from console.services.store import Store
from console.services.users import hash_password, password_matches
from storage.models import AuthSession, LoginAttempt, User

SESSION_COOKIE = "mentiondesk_session"
SESSION_LIFETIME = timedelta(days=7)
FAILURE_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 3
"""Failures allowed in a row before each further attempt has to wait."""
FIRST_WAIT = timedelta(seconds=5)
MAX_WAIT = timedelta(minutes=15)
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")


class SignInError(ServiceError, ValueError):
    """Wrong username or password (deliberately not saying which)."""


class SignInThrottled(SignInError):  # noqa: N818 - reads as a state, like PermissionDenied
    """Too many failures in a row: the next attempt is allowed only after ``retry_in``."""

    def __init__(self, retry_in: timedelta) -> None:
        self.retry_in = retry_in
        seconds = max(1, int(retry_in.total_seconds() + 0.999))
        super().__init__(f"too many failed sign-ins; try again in {seconds} s")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the actor, and the token to put in the cookie (shown once, never stored)."""

    actor: Actor
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def failures_in_a_row(session: Session, username: str, now: datetime) -> tuple[int, datetime | None]:
    """Failed attempts since the last success within the window, and when the latest one was."""
    attempts = session.execute(
        select(LoginAttempt.succeeded, LoginAttempt.at)
        .where(LoginAttempt.username == username, LoginAttempt.at >= now - FAILURE_WINDOW)
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
        .limit(50)
    ).all()
    count = 0
    for succeeded, _ in attempts:
        if succeeded:
            break
        count += 1
    return count, (attempts[0][1] if count else None)


def required_wait(failures: int) -> timedelta:
    """No wait for the first few failures, then 5 s, 10 s, 20 s... up to 15 minutes."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), MAX_WAIT)


def _check_throttle(session: Session, username: str, now: datetime) -> None:
    failures, last = failures_in_a_row(session, username, now)
    if last is None:
        return
    retry_at = last + required_wait(failures)
    if now < retry_at:
        raise SignInThrottled(retry_at - now)


def _fail(session: Session, username: str, user: User | None, now: datetime) -> None:
    session.add(LoginAttempt(username=username, at=now, succeeded=False))
    session.flush()
    failures, _ = failures_in_a_row(session, username, now)  # includes this one
    wait = required_wait(failures)
    if user is not None:
        user.failed_logins = failures
        user.locked_until = now + wait if wait else None
    audit.record(
        session,
        None,
        "auth.sign_in_failed",
        "user",
        user.id if user else None,
        after={"username": username, "failures_in_a_row": failures},
        actor_label=f"anonymous:{username[:60]}",
    )


def sign_in(session: Session, username: str, password: str, *, now: datetime | None = None) -> SignedIn:
    """Check the password and open a session; the caller commits, also on failure (to count it).

    Raises:
        SignInThrottled: Too many recent failures for this username; nothing was checked.
        SignInError: Unknown user, inactive user or wrong password.
    """
    now = now or datetime.now(UTC)
    username = username.strip()
    _check_throttle(session, username, now)
    user = session.scalar(select(User).where(User.username == username))
    ok = password_matches(user.password_hash if user else _DUMMY_HASH, password)  # same cost either way
    if user is None or not ok or not user.is_active:
        session.flush()
        _fail(session, username, user, now)
        raise SignInError("wrong username or password")
    session.add(LoginAttempt(username=username, at=now, succeeded=True))
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    session.add(AuthSession(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires))
    actor = Actor.of(user)
    audit.record(session, actor, "auth.sign_in", "user", user.id, after={"session_expires_at": expires.isoformat()})
    return SignedIn(actor, token, expires)


def authenticate(store: Store, username: str, password: str, *, now: datetime | None = None) -> SignedIn:
    """:func:`sign_in` in its own transaction, committing the failed attempt before raising."""
    failure: SignInError | None = None
    with store.transaction() as session:
        try:
            return sign_in(session, username, password, now=now)
        except SignInThrottled:
            raise
        except SignInError as exc:
            failure = exc
    raise failure


def resolve_session(session: Session, token: str | None, *, now: datetime | None = None) -> Actor | None:
    """The actor behind a cookie token, or None if it is unknown, expired, revoked or deactivated."""
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
    if auth.revoked_at is not None or auth.expires_at <= now or not user.is_active:
        return None
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
