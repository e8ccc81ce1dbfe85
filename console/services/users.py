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


class UserExistsError(ServiceError, ValueError):
    """A username is already taken."""


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
    if len(password) < 8:
        raise ValueError("passwords need at least 8 characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserExistsError(f"user {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password), display_name=display_name)
    session.add(user)
    session.flush()
    return user
