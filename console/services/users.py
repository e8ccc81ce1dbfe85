"""Users and passwords: argon2 hashes via argon2-cffi, never the password itself."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.services.errors import ServiceError
from storage.enums import Role
from storage.models import User

_hasher = PasswordHasher()
MIN_PASSWORD_CHARS = 8


class UserExistsError(ServiceError, ValueError):
    """A username is already taken."""


class PasswordTooShortError(ServiceError, ValueError):
    """A new password below the minimum length."""


def hash_password(password: str) -> str:
    """An argon2id hash with the library's current parameters."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Constant-time check; False for a wrong password or a damaged hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, role: Role, display_name: str = "") -> User:
    """Add a user; the caller commits."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordTooShortError(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserExistsError(f"user {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password), display_name=display_name)
    session.add(user)
    session.flush()
    return user


def display_names(session: Session) -> dict[int, str]:
    """User id -> full name (the username where none is set), for notes and assignees."""
    rows = session.execute(select(User.id, User.username, User.display_name)).tuples()
    return {user_id: name or username for user_id, username, name in rows}


def first_names(session: Session) -> dict[str, str]:
    """Username -> first name (the username where no name is set), for the activity feed's sentences."""
    rows = session.execute(select(User.username, User.display_name)).tuples()
    return {username: next(iter((name or "").split()), username) for username, name in rows}
