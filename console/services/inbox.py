"""Queries behind the Inbox: paged, only the needed columns, on indexed filters.

Every read takes the acting user and needs :attr:`~console.services.permissions.Permission.READ`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, cast, false, func, or_, select
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from storage.enums import OPEN_STATUSES, MentionStatus
from storage.models import Author, Brand, Classification, Mention, Note, Reply, User

PAGE_SIZE = 50
COUNT_CAP = 10_000
OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
"""Counts stop here: on a large store an exact count of a big queue costs more than the page itself."""
ASSIGNEE_ANYONE, ASSIGNEE_ME, ASSIGNEE_UNASSIGNED = "anyone", "me", "unassigned"
SORT_PRIORITY, SORT_DUE, SORT_NEWEST, SORT_OLDEST = "priority", "due", "newest", "oldest"
SORTS = {
    SORT_PRIORITY: "priority, then SLA due time",
    SORT_DUE: "SLA due soonest",
    SORT_NEWEST: "newest first",
    SORT_OLDEST: "oldest first",
}
"""Each sort the Inbox offers, in words; priority is the default and walks the open-queue index."""


@dataclass(frozen=True)
class InboxFilters:
    """What the agent narrowed the queue to; empty means "any"."""

    brand_ids: Sequence[int] = ()
    platforms: Sequence[str] = ()
    statuses: Sequence[str] = tuple(s.value for s in OPEN_STATUSES)
    sentiments: Sequence[str] = ()
    urgencies: Sequence[str] = ()
    topics: Sequence[str] = ()
    languages: Sequence[str] = ()
    assignee: str = ASSIGNEE_ANYONE
    me_id: int | None = None
    replyable: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str = ""
    escalation_queues: Sequence[str] = ()
    """Only mentions whose open escalation is in one of these queues."""
    breaching_within: timedelta | None = None
    """Only open, unanswered mentions whose running clock is due before now + this (already late ones too)."""
    sort: str = SORT_PRIORITY
    page: int = 0
    page_size: int = PAGE_SIZE
    as_of: datetime | None = None
    """The "now" of ``breaching_within`` (``None``: the time of the query)."""


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
    assignee_id: int | None = None
    replyable_reason: str = ""
    brand_id: int | None = None
    sla_at_risk_at: datetime | None = None
    sla_started_at: datetime | None = None
    sla_responded_at: datetime | None = None
    escalation_queue: str | None = None
    reason: str = ""
    topics: tuple[str, ...] = ()


def _escape_like(term: str) -> str:  # NUL dropped: PostgreSQL refuses it in text, no stored mention holds one
    return term.replace("\x00", "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _assignee_clause(filters: InboxFilters) -> Any | None:
    if filters.assignee == ASSIGNEE_ME:
        return Mention.assignee_id == (filters.me_id if filters.me_id is not None else -1)
    if filters.assignee == ASSIGNEE_UNASSIGNED:
        # ``+ 0`` keeps the planners off ix_mentions_assignee_status: most open mentions are unassigned, so that
        # index returns nearly the whole queue to sort, where walking the open-queue index in order stops early.
        return (Mention.assignee_id + 0).is_(None)
    return None


def _topic_clause(topics: Sequence[str]) -> Any:
    """The current classification lists one of the topics (JSON read as text: portable, still exact)."""
    as_text = cast(Classification.topics, String)
    return (
        select(Classification.id)
        .where(
            Classification.mention_id == Mention.id,
            Classification.is_current,
            or_(*[as_text.like(f'%"{_escape_like(t)}"%', escape="\\") for t in topics]),
        )
        .exists()
    )


def status_in(statuses: Sequence[str]) -> Any:
    """``status IN (...)`` rendered with literal values, so the planner can use the open-queue partial index.

    A bound parameter list hides the values from SQLite's planner (and from PostgreSQL's generic plans),
    and the partial index only applies when the query's WHERE visibly implies the index's WHERE.
    """
    values = [MentionStatus(s).value for s in statuses]
    return Mention.status.in_(bindparam("queue_statuses", values, expanding=True, literal_execute=True))


def _statuses(filters: InboxFilters) -> list[str] | None:
    """The statuses to match (``None``: any); a breaching filter keeps only the open ones."""
    statuses = [MentionStatus(s).value for s in filters.statuses]
    if filters.breaching_within is None:
        return statuses or None
    return [s for s in (statuses or [o.value for o in OPEN_STATUSES]) if s in OPEN_VALUES]


def _breaching_clauses(filters: InboxFilters) -> list[Any]:
    """A running clock due before the horizon.

    The at-risk time always comes before the due time, so ``sla_at_risk_at < horizon`` adds nothing to the
    result but lets the planner use the running-clock partial index (``ix_mentions_clock_running``).
    """
    if filters.breaching_within is None:
        return []
    horizon = (filters.as_of or datetime.now(UTC)) + filters.breaching_within
    return [Mention.sla_responded_at.is_(None), Mention.sla_due_at < horizon, Mention.sla_at_risk_at < horizon]


def _where(filters: InboxFilters) -> list[Any]:
    clauses: list[Any] = [Mention.is_brand_post.is_(False)]
    statuses = _statuses(filters)
    if statuses is not None:
        clauses.append(status_in(statuses) if statuses else false())
    pairs = [
        (Mention.brand_id, filters.brand_ids),
        (Mention.platform, filters.platforms),
        (Mention.sentiment, filters.sentiments),
        (Mention.urgency, filters.urgencies),
        (Mention.language, filters.languages),
    ]
    clauses += [column.in_(list(values)) for column, values in pairs if values]
    if (assignee := _assignee_clause(filters)) is not None:
        clauses.append(assignee)
    if filters.replyable is not None:
        clauses.append(Mention.replyable.is_(filters.replyable))
    if filters.since is not None:
        clauses.append(Mention.created_at >= filters.since)
    if filters.until is not None:
        clauses.append(Mention.created_at < filters.until)
    if filters.topics:
        clauses.append(_topic_clause(filters.topics))
    if filters.search.strip():
        clauses.append(Mention.text.ilike(f"%{_escape_like(filters.search.strip())}%", escape="\\"))
    if filters.escalation_queues:
        clauses.append(Mention.escalation_queue.in_(list(filters.escalation_queues)))
    return clauses + _breaching_clauses(filters)


_ORDER_KEYS: dict[str, tuple[tuple[Any, bool], ...]] = {
    SORT_PRIORITY: ((Mention.priority, True), (Mention.sla_due_at, False), (Mention.id, False)),
    SORT_DUE: ((Mention.sla_due_at, False), (Mention.priority, True), (Mention.id, False)),
    SORT_NEWEST: ((Mention.created_at, True), (Mention.id, True)),
    SORT_OLDEST: ((Mention.created_at, False), (Mention.id, False)),
}
"""Each sort as (column, descending) keys, NULLs last, ending on the unique id so the order is total."""


def _order_keys(sort: str) -> tuple[tuple[Any, bool], ...]:
    return _ORDER_KEYS.get(sort, _ORDER_KEYS[SORT_PRIORITY])


def _order_by(sort: str) -> list[Any]:
    """``ORDER BY`` terms: NULLs last on the nullable keys (priority, due time), as the open-queue index is."""
    terms = []
    for column, desc in _order_keys(sort):
        term = column.desc() if desc else column.asc()
        terms.append(term.nulls_last() if column.nullable else term)
    return terms


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
            Mention.assignee_id,
            Mention.replyable_reason,
            Mention.brand_id,
            Mention.sla_at_risk_at,
            Mention.sla_started_at,
            Mention.sla_responded_at,
            Mention.escalation_queue,
        )
        .outerjoin(Brand, Brand.id == Mention.brand_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(User, User.id == Mention.assignee_id)
        .where(*_where(filters))
        .order_by(*_order_by(filters.sort))
    )


def list_queue(session: Session, actor: Actor, filters: InboxFilters) -> list[InboxRow]:
    """One page of the queue: highest priority first, then the soonest SLA due time."""
    require(actor, Permission.READ)
    query = _queue_query(filters).limit(filters.page_size).offset(filters.page * filters.page_size)
    rows: list[list[Any]] = [list(row) for row in session.execute(query)]
    why = _reasons(session, [row[0] for row in rows])
    return [InboxRow(*[*row, *why.get(row[0], ("", ()))]) for row in rows]


def _after(keys: Sequence[tuple[Any, bool]], values: Sequence[Any]) -> Any:
    """Rows strictly after ``values`` in the order of ``keys`` (NULLs last), as a keyset predicate."""
    column, desc = keys[0]
    value = values[0]
    if value is None:
        beyond: Any = false()  # nothing sorts after NULL but other NULLs, which the next key orders
        same: Any = column.is_(None)
    else:
        beyond = column < value if desc else column > value
        if column.nullable:
            beyond = or_(beyond, column.is_(None))
        same = column == value
    if len(keys) == 1:
        return beyond
    return or_(beyond, and_(same, _after(keys[1:], values[1:])))


def next_in_view(session: Session, actor: Actor, filters: InboxFilters, after_id: int) -> int | None:
    """The mention after ``after_id`` in the view's order, for "Send & next" and "Resolve & next".

    Mentions someone other than ``actor`` has claimed are skipped; past the end it wraps to the top; it never returns
    ``after_id``.  ``after_id`` need not match the view any more (just resolved): its sort keys place it.
    Each lookup is one ``LIMIT 1`` walk of the view's index in order.
    """
    me_id = require(actor, Permission.READ).id
    if filters.me_id is None:
        filters = replace(filters, me_id=me_id)
    keys = _order_keys(filters.sort)
    free = or_(Mention.assignee_id.is_(None), Mention.assignee_id == me_id)
    query = (
        select(Mention.id)
        .where(*_where(filters), free, Mention.id != after_id)
        .order_by(*_order_by(filters.sort))
        .limit(1)
    )
    anchor = session.execute(select(*[column for column, _ in keys]).where(Mention.id == after_id)).first()
    if anchor is not None:
        found = session.scalar(query.where(_after(keys, tuple(anchor))))
        if found is not None:
            return int(found)
    first = session.scalar(query)  # wrap to the top of the view
    return int(first) if first is not None else None


def _reasons(session: Session, ids: list[int]) -> dict[int, tuple[str, tuple[str, ...]]]:
    """The "why urgent" line and the topics of each row, from its current classification (one query)."""
    if not ids:
        return {}
    query = select(Classification.mention_id, Classification.explanation, Classification.topics).where(
        Classification.mention_id.in_(ids), Classification.is_current
    )
    out: dict[int, tuple[str, tuple[str, ...]]] = {}
    for mention_id, explanation, topics in session.execute(query):
        reasons = [str(s.get("reason")) for s in explanation or [] if isinstance(s, dict) and s.get("reason")]
        topic_list = tuple(str(t) for t in topics or [])
        fallback = f"topic: {', '.join(topic_list)}" if topic_list else ""
        out[mention_id] = ("; ".join(reasons[:2]) or fallback, topic_list)
    return out


def _capped_count(session: Session, filters: InboxFilters, cap: int) -> int:
    """Count matches, stopping at ``cap + 1``, so only a short index range is read.

    Open-queue counts walk the queue's own partial covering index (asking for its order makes the planner
    pick it); other statuses walk ``ix_mentions_queue``; one person's mentions are read from
    ``ix_mentions_assignee_status`` (a few thousand at most, where the open queue has hundreds of thousands).
    """
    matches = select(Mention.id).where(*_where(filters)).limit(cap + 1)
    statuses = _statuses(filters)
    if statuses and set(statuses) <= OPEN_VALUES and filters.assignee != ASSIGNEE_ME:
        matches = matches.order_by(Mention.priority.desc().nulls_last())
    return int(session.scalar(select(func.count()).select_from(matches.subquery())) or 0)


def count_queue(session: Session, actor: Actor, filters: InboxFilters, cap: int = COUNT_CAP) -> int:
    """How many mentions match, for the pager; above ``cap`` it returns ``cap + 1`` (shown as "10,000+")."""
    require(actor, Permission.READ)
    return _capped_count(session, filters, cap)


def count_by_status(session: Session, actor: Actor, filters: InboxFilters, cap: int = COUNT_CAP) -> dict[str, int]:
    """Counts per status under the other filters (the status filter itself is ignored), each capped like the pager.

    One capped count per status walks a short index range each, where a GROUP BY would read every row.
    """
    require(actor, Permission.READ)
    return {
        status.value: _capped_count(session, replace(filters, statuses=(status.value,)), cap)
        for status in MentionStatus
    }


def format_count(n: int, cap: int = COUNT_CAP) -> str:
    """``1,234`` or ``10,000+`` for a capped count."""
    return f"{cap:,}+" if n > cap else f"{n:,}"


def count_assigned_to(session: Session, actor: Actor) -> int:
    """Open mentions assigned to the actor (the "assigned to me" badge)."""
    me_id = require(actor, Permission.READ).id
    query = (
        select(func.count())
        .select_from(Mention)
        .where(Mention.assignee_id == me_id, Mention.status.in_([s.value for s in OPEN_STATUSES]))
    )
    return int(session.scalar(query) or 0)


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


def mention_detail(session: Session, actor: Actor, mention_id: int) -> MentionDetail | None:
    """The mention with its thread (in order), replies, notes and current classification."""
    require(actor, Permission.READ)
    mention = session.get(Mention, mention_id)
    if mention is None:
        return None
    author = session.get(Author, mention.author_id) if mention.author_id else None
    brand = session.scalar(select(Brand.name).where(Brand.id == mention.brand_id)) if mention.brand_id else None
    assignee = (
        session.scalar(select(User.username).where(User.id == mention.assignee_id)) if mention.assignee_id else None
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
    replies = list(session.scalars(select(Reply).where(Reply.mention_id == mention_id).order_by(Reply.created_at)))
    notes = list(session.scalars(select(Note).where(Note.mention_id == mention_id).order_by(Note.created_at)))
    current = session.scalar(
        select(Classification).where(and_(Classification.mention_id == mention_id, Classification.is_current))
    )
    return MentionDetail(mention, author, brand, assignee, thread, replies, notes, current)


def brand_choices(session: Session, actor: Actor) -> dict[str, int]:
    """Brand name -> id, for the filter."""
    require(actor, Permission.READ)
    return dict(session.execute(select(Brand.name, Brand.id).order_by(Brand.name)).tuples().all())


def platform_choices(session: Session, actor: Actor) -> list[str]:
    """Platforms present in the store."""
    require(actor, Permission.READ)
    return list(session.scalars(select(Mention.platform).distinct().order_by(Mention.platform)))


def topic_choices(session: Session, actor: Actor, limit: int = 5_000) -> list[str]:
    """Topics seen in recent current classifications, for the filter."""
    require(actor, Permission.READ)
    query = (
        select(Classification.topics).where(Classification.is_current).order_by(Classification.id.desc()).limit(limit)
    )
    return sorted({str(t) for topics in session.scalars(query) for t in topics or []})


def language_choices(session: Session, actor: Actor) -> list[str]:
    """Languages present in the store."""
    require(actor, Permission.READ)
    query = select(Mention.language).where(Mention.language.is_not(None)).distinct().order_by(Mention.language)
    return [str(x) for x in session.scalars(query)]
