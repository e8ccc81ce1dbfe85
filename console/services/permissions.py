"""Who may do what: every mutating service calls :func:`require` before it touches the store.

The UI hides what a role cannot use, but the check that counts lives here, so a page bug or a
hand-crafted request cannot let an analyst post a reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from console.services.errors import ServiceError
from storage.enums import Role
from storage.models import User


class Permission(StrEnum):
    """One capability; roles are sets of these."""

    READ = "read"
    EXPORT = "export"
    TRIAGE = "triage"  # claim, status, tags, notes, label corrections
    REPLY = "reply"
    REASSIGN = "reassign"  # assign mentions to someone else, take over a claim
    DASHBOARDS = "dashboards"
    AUDIT = "audit"
    ADMIN = "admin"  # sources, templates, voice rules, SLA policies, users


_AGENT = {Permission.READ, Permission.TRIAGE, Permission.REPLY}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(_AGENT),
    Role.MANAGER: frozenset(_AGENT | {Permission.REASSIGN, Permission.DASHBOARDS, Permission.EXPORT}),
    Role.ANALYST: frozenset({Permission.READ, Permission.EXPORT, Permission.DASHBOARDS}),
    Role.ADMIN: frozenset(Permission),
}


class PermissionDenied(ServiceError, PermissionError):  # noqa: N818 - the name the whole console uses
    """The signed-in user's role does not allow this action; the message says which role would."""

    def __init__(self, actor: Actor, permission: Permission) -> None:
        self.actor = actor
        self.permission = permission
        allowed = ", ".join(r.value for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
        super().__init__(f"{actor.username} ({actor.role.value}) may not {permission.value}; allowed for: {allowed}")


class SignInRequired(ServiceError, PermissionError):  # noqa: N818 - reads as a state, like PermissionDenied
    """No one is signed in, so no role can allow the action."""

    def __init__(self) -> None:
        super().__init__("sign in first")


@dataclass(frozen=True)
class Actor:
    """The signed-in person, detached from any database session."""

    id: int
    username: str
    role: Role
    display_name: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        """Snapshot a user row."""
        return cls(user.id, user.username, Role(user.role), user.display_name or "")

    @property
    def label(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.username}"

    def can(self, permission: Permission) -> bool:
        """True if this actor's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]


def require(actor: Actor | None, permission: Permission) -> Actor:
    """Return ``actor`` if allowed, else raise :class:`PermissionDenied` (:class:`SignInRequired` for no one)."""
    if actor is None:
        raise SignInRequired
    if not actor.can(permission):
        raise PermissionDenied(actor, permission)
    return actor
