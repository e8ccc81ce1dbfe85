"""The audit log: append, browse, filter.  Rows are never edited or deleted (the database refuses).

Every service that changes something calls :func:`record` in the same transaction as the change,
so an action and its audit row commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from storage.models import AuditEntry, Reply

PAGE_SIZE = 100


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one entry; ``actor_label`` names a non-user actor (``system``, a failed sign-in)."""
    entry = AuditEntry(
        user_id=actor.id if actor and not actor.is_system else None,
        actor=actor_label or (actor.label if actor else "system"),
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilters:
    """What an admin narrowed the log to; empty means any."""

    actions: Sequence[str] = ()
    actor: str = ""
    entity_type: str = ""
    entity_id: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page: int = 0
    page_size: int = PAGE_SIZE


def _where(filters: AuditFilters) -> list[Any]:
    clauses: list[Any] = []
    if filters.actions:
        clauses.append(AuditEntry.action.in_(list(filters.actions)))
    if filters.actor.strip():
        clauses.append(AuditEntry.actor.ilike(f"%{filters.actor.strip()}%"))
    if filters.entity_type:
        clauses.append(AuditEntry.entity_type == filters.entity_type)
    if filters.entity_id.strip():
        clauses.append(AuditEntry.entity_id == filters.entity_id.strip())
    if filters.since:
        clauses.append(AuditEntry.at >= filters.since)
    if filters.until:
        clauses.append(AuditEntry.at < filters.until)
    return clauses


def browse(session: Session, actor: Actor, filters: AuditFilters) -> tuple[list[AuditEntry], int]:
    """One page of the log, newest first, and the total under the filters (admins only)."""
    require(actor, Permission.AUDIT)
    where = _where(filters)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(filters.page_size)
        .offset(filters.page * filters.page_size)
    )
    return list(rows), total


def known_actions(session: Session, actor: Actor) -> list[str]:
    """Every action name in the log, for the filter (the log's readers only)."""
    require(actor, Permission.AUDIT)
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def mention_timeline(session: Session, actor: Actor, mention_id: int, limit: int = 200) -> list[AuditEntry]:
    """Every event about one mention and its replies, oldest first (the conversation's activity feed).

    Anyone who may read the mention sees who handled it; the whole log stays with :attr:`Permission.AUDIT`.
    """
    require(actor, Permission.READ)
    reply_ids = [str(i) for i in session.scalars(select(Reply.id).where(Reply.mention_id == mention_id))]
    about_mention = and_(AuditEntry.entity_type == "mention", AuditEntry.entity_id == str(mention_id))
    about_replies = and_(AuditEntry.entity_type == "reply", AuditEntry.entity_id.in_(reply_ids))
    query = (
        select(AuditEntry)
        .where(or_(about_mention, about_replies) if reply_ids else about_mention)
        .order_by(AuditEntry.at, AuditEntry.id)
        .limit(limit)
    )
    return list(session.scalars(query))
