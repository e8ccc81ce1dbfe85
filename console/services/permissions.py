"""Who may do what: each service that reads or writes mentions checks its :class:`Actor` with :func:`require`.

Every such service takes the acting user and calls :func:`require` before it touches the store.  The UI
hides what a role cannot use, but the check that counts lives here, so a page bug or a hand-crafted request
cannot let an analyst post a reply or an agent export the store.
``tests/test_role_table.py`` holds the one table of what each role may do, per service function.

Taking over a colleague's claim needs :attr:`Permission.REPLY`, not ``REASSIGN``: in a care team, picking up
a stale claim (a colleague off shift, at lunch, stuck) is routine, the takeover is audited and the first agent
is told at once, and the taker only takes it for themselves.  ``REASSIGN`` is for moving a mention to someone
*else* or releasing another person's claim.

The command line acts as :meth:`Actor.system`: whoever runs it has shell access to the store already.
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
    TRIAGE = "triage"  # status, tags, notes, label corrections, escalations, taking free mentions in bulk
    REPLY = "reply"  # reply, and claim or take over the mention to answer it
    REASSIGN = "reassign"  # assign mentions to someone else, release another's claim, settle a parked reply
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


SYSTEM_ACTOR_ID = 0
"""The id of :meth:`Actor.system`; no user row has it (ids start at 1)."""


@dataclass(frozen=True)
class Actor:
    """The signed-in person, detached from any database session."""

    id: int
    username: str
    role: Role
    display_name: str = ""
    is_system: bool = False
    """True for :meth:`system`: no user row stands behind it (the audit log keeps no ``user_id``)."""

    @classmethod
    def of(cls, user: User) -> Actor:
        """Snapshot a user row."""
        return cls(user.id, user.username, Role(user.role), user.display_name or "")

    @classmethod
    def system(cls, name: str = "cli") -> Actor:
        """The operator at a shell (``mentiondesk export``, a notebook): an admin, audit-labelled ``system:<name>``.

        The command line reads the store with the operator's own access (the database URL and its
        credentials), so a role check could not keep them out; the actor makes the service calls the same as
        the pages' and names the operator in the audit log.  It has no user row, so it suits reads and
        settings, not work done as a person (claims, replies, notes): commands for those take ``--as USER``.
        """
        return cls(SYSTEM_ACTOR_ID, f"system:{name}", Role.ADMIN, display_name=name, is_system=True)

    @property
    def label(self) -> str:
        """How the audit log names this person (``user:jamie``, or ``system:cli`` for the command line)."""
        return self.username if self.is_system else f"user:{self.username}"

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
