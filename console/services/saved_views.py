"""Saved Inbox views: a few built in for everyone, and each person's own, stored as the URL's query string.

A view is only a query string (``urgency=critical&assignee=unassigned``), the same one the Inbox keeps in
its URL, so opening a view, sharing a link and reloading all mean the same thing.  People may save, rename
and delete their own views only; every change is in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.config import EscalationConfig
from console.services import audit
from console.services.errors import ServiceError
from console.services.escalations import queues_of
from console.services.inbox import ASSIGNEE_ME, ASSIGNEE_UNASSIGNED, COUNT_CAP, InboxFilters, count_queue
from console.services.permissions import Actor, Permission, require
from storage.models import SavedView

MAX_NAME_CHARS = 80
MAX_QUERY_CHARS = 2_000
MAX_VIEWS_PER_USER = 30
BREACHING_MINUTES = 30
ALL_OPEN, MY_OPEN, UNASSIGNED_CRITICAL = "All open", "My open", "Unassigned critical"
BREACHING, ESCALATED_TO_ME = f"Breaching within {BREACHING_MINUTES} min", "Escalated to me"


class SavedViewError(ServiceError, ValueError):
    """A saved-view change that cannot be done as asked; the message is for the person."""


@dataclass(frozen=True)
class ViewEntry:
    """A view the Inbox offers: a name and its query string; ``id`` is set for a person's own views."""

    name: str
    query: str
    id: int | None = None

    @property
    def builtin(self) -> bool:
        """True for the views everyone has (they cannot be renamed or deleted)."""
        return self.id is None


def builtin_views(actor: Actor, config: EscalationConfig) -> list[ViewEntry]:
    """The views everyone gets; "Escalated to me" only for someone who works an escalation queue."""
    require(actor, Permission.READ)
    views = [
        ViewEntry(ALL_OPEN, ""),
        ViewEntry(MY_OPEN, urlencode({"assignee": ASSIGNEE_ME})),
        ViewEntry(UNASSIGNED_CRITICAL, urlencode({"urgency": "critical", "assignee": ASSIGNEE_UNASSIGNED})),
        ViewEntry(BREACHING, urlencode({"breaching": BREACHING_MINUTES})),
    ]
    queues = queues_of(actor, config)
    if queues:
        views.append(ViewEntry(ESCALATED_TO_ME, urlencode({"queue": queues}, doseq=True)))
    return views


def own_views(session: Session, actor: Actor) -> list[ViewEntry]:
    """The person's saved views, by name."""
    require(actor, Permission.READ)
    rows = session.execute(
        select(SavedView.id, SavedView.name, SavedView.query)
        .where(SavedView.user_id == actor.id)
        .order_by(SavedView.name)
    )
    return [ViewEntry(name, query, view_id) for view_id, name, query in rows]


def list_views(session: Session, actor: Actor, config: EscalationConfig) -> list[ViewEntry]:
    """Built-in views first, then the person's own."""
    return [*builtin_views(actor, config), *own_views(session, actor)]


def _clean_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise SavedViewError(f"name the view in 1 to {MAX_NAME_CHARS} characters")
    if clean.casefold() in {n.casefold() for n in (ALL_OPEN, MY_OPEN, UNASSIGNED_CRITICAL, BREACHING, ESCALATED_TO_ME)}:
        raise SavedViewError(f"“{clean}” is a built-in view: pick another name")
    return clean


def _name_taken(session: Session, actor: Actor, name: str, but: int | None = None) -> bool:
    query = select(SavedView.id).where(SavedView.user_id == actor.id, SavedView.name == name)
    if but is not None:
        query = query.where(SavedView.id != but)
    return session.scalar(query) is not None


def _own(session: Session, actor: Actor, view_id: int) -> SavedView:
    row = session.scalar(select(SavedView).where(SavedView.id == view_id, SavedView.user_id == actor.id))
    if row is None:
        raise SavedViewError("that view does not exist (or is someone else's)")
    return row


def save_view(session: Session, actor: Actor, name: str, query: str) -> SavedView:
    """Save the current view under a new name.

    Raises:
        SavedViewError: Empty, too long or taken name, a built-in name, or too many views.
    """
    require(actor, Permission.READ)
    clean = _clean_name(name)
    if len(query) > MAX_QUERY_CHARS:
        raise SavedViewError("this view has too many filters to save")
    if _name_taken(session, actor, clean):
        raise SavedViewError(f"you already have a view called “{clean}”")
    if len(own_views(session, actor)) >= MAX_VIEWS_PER_USER:
        raise SavedViewError(f"you have {MAX_VIEWS_PER_USER} saved views: delete one first")
    row = SavedView(user_id=actor.id, name=clean, query=query)
    session.add(row)
    session.flush()
    audit.record(session, actor, "saved_view.create", "saved_view", row.id, after={"name": clean, "query": query})
    return row


def rename_view(session: Session, actor: Actor, view_id: int, name: str) -> SavedView:
    """Rename one of the person's own views."""
    require(actor, Permission.READ)
    row = _own(session, actor, view_id)
    clean = _clean_name(name)
    if _name_taken(session, actor, clean, but=view_id):
        raise SavedViewError(f"you already have a view called “{clean}”")
    before = row.name
    row.name = clean
    audit.record(
        session, actor, "saved_view.rename", "saved_view", view_id, before={"name": before}, after={"name": clean}
    )
    return row


def delete_view(session: Session, actor: Actor, view_id: int) -> None:
    """Delete one of the person's own views."""
    require(actor, Permission.READ)
    row = _own(session, actor, view_id)
    audit.record(
        session, actor, "saved_view.delete", "saved_view", view_id, before={"name": row.name, "query": row.query}
    )
    session.delete(row)


def view_counts(
    session: Session, actor: Actor, filters: Mapping[str, InboxFilters], cap: int = COUNT_CAP
) -> dict[str, int]:
    """How many mentions each view holds, capped like the Inbox's other counts (``cap + 1`` means more)."""
    require(actor, Permission.READ)
    return {name: count_queue(session, actor, f, cap) for name, f in filters.items()}
