"""Queries behind the Inbox: paged, only the needed columns, on indexed filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from storage.enums import OPEN_STATUSES, MentionStatus
from storage.models import Author, Brand, Classification, Mention, Note, Reply, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class InboxFilters:
    """What the agent narrowed the queue to; empty means "any"."""

    brand_ids: Sequence[int] = ()
    platforms: Sequence[str] = ()
    statuses: Sequence[str] = tuple(s.value for s in OPEN_STATUSES)
    sentiments: Sequence[str] = ()
    urgencies: Sequence[str] = ()
    search: str = ""
    page: int = 0
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class InboxRow:
    """One queue line, with just the columns the table shows."""

    id: int
    platform: str
    brand: str | None
    handle: str | None
    followers: int
    verified: bool
    is_vip: bool
    text: str
    created_at: datetime
    status: str
    sentiment: str | None
    urgency: str | None
    priority: int | None
    sla_due_at: datetime | None
    assignee: str | None
    replyable: bool


def _where(filters: InboxFilters) -> list[Any]:
    clauses: list[Any] = [Mention.is_brand_post.is_(False)]
    if filters.statuses:
        clauses.append(Mention.status.in_(list(filters.statuses)))
    if filters.brand_ids:
        clauses.append(Mention.brand_id.in_(list(filters.brand_ids)))
    if filters.platforms:
        clauses.append(Mention.platform.in_(list(filters.platforms)))
    if filters.sentiments:
        clauses.append(Mention.sentiment.in_(list(filters.sentiments)))
    if filters.urgencies:
        clauses.append(Mention.urgency.in_(list(filters.urgencies)))
    if filters.search.strip():
        clauses.append(Mention.text.ilike(f"%{_escape_like(filters.search.strip())}%", escape="\\"))
    return clauses


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _queue_query(filters: InboxFilters) -> Select[Any]:
    return (
        select(
            Mention.id,
            Mention.platform,
            Brand.name,
            Author.handle,
            Author.followers,
            Author.verified,
            Author.is_vip,
            Mention.text,
            Mention.created_at,
            Mention.status,
            Mention.sentiment,
            Mention.urgency,
            Mention.priority,
            Mention.sla_due_at,
            User.username,
            Mention.replyable,
        )  # fmt: skip
        .outerjoin(Brand, Brand.id == Mention.brand_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(User, User.id == Mention.assignee_id)
        .where(*_where(filters))
        .order_by(Mention.priority.desc().nulls_last(), Mention.sla_due_at.asc().nulls_last(), Mention.id)
    )


def list_queue(session: Session, filters: InboxFilters) -> list[InboxRow]:
    """One page of the queue: highest priority first, then the soonest SLA due time."""
    query = _queue_query(filters).limit(filters.page_size).offset(filters.page * filters.page_size)
    return [InboxRow(*row) for row in session.execute(query)]


def count_by_status(session: Session, filters: InboxFilters) -> dict[str, int]:
    """Counts per status under the other filters (the status filter itself is ignored)."""
    unfiltered = InboxFilters(**{**filters.__dict__, "statuses": ()})
    query = select(Mention.status, func.count()).where(*_where(unfiltered)).group_by(Mention.status)
    counts = {s.value: 0 for s in MentionStatus}
    for status, n in session.execute(query):
        counts[str(status.value if isinstance(status, MentionStatus) else status)] = n
    return counts


@dataclass
class MentionDetail:
    """Everything the detail panel shows about one mention."""

    mention: Mention
    author: Author | None
    brand: str | None
    assignee: str | None
    thread: list[Mention] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    classification: Classification | None = None


def mention_detail(session: Session, mention_id: int) -> MentionDetail | None:
    """The mention with its thread (in order), replies, notes and current classification."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        return None
    author = session.get(Author, mention.author_id) if mention.author_id else None
    brand = (
        session.scalar(select(Brand.name).where(Brand.id == mention.brand_id)) if mention.brand_id else None
    )
    assignee = (
        session.scalar(select(User.username).where(User.id == mention.assignee_id))
        if mention.assignee_id
        else None
    )
    thread_key = mention.conversation_id or mention.external_id
    thread = list(
        session.scalars(
            select(Mention)
            .where(
                Mention.platform == mention.platform,
                or_(Mention.conversation_id == thread_key, Mention.external_id == thread_key),
            )
            .order_by(Mention.created_at)
            .limit(200)
        )
    )
    replies = list(
        session.scalars(select(Reply).where(Reply.mention_id == mention_id).order_by(Reply.created_at))
    )
    notes = list(session.scalars(select(Note).where(Note.mention_id == mention_id).order_by(Note.created_at)))
    current = session.scalar(
        select(Classification).where(and_(Classification.mention_id == mention_id, Classification.is_current))
    )
    return MentionDetail(mention, author, brand, assignee, thread, replies, notes, current)


def brand_choices(session: Session) -> dict[str, int]:
    """Brand name -> id, for the filter."""
    return dict(session.execute(select(Brand.name, Brand.id).order_by(Brand.name)).all())


def platform_choices(session: Session) -> list[str]:
    """Platforms present in the store."""
    return list(session.scalars(select(Mention.platform).distinct().order_by(Mention.platform)))
