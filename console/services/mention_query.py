"""The analysts' view of mentions: one filter type and one column list for Explore, export and notebooks.

Every mention field plus its current classification, flattened to one row per mention.
Times are UTC and their column names say so (``created_at_utc``).  Readers such as the export stream
the rows in chunks of :data:`CHUNK_ROWS`, so memory stays flat however many rows match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, String, and_, cast, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from storage.models import Author, Brand, Classification, Mention, User

Kind = Literal["int", "float", "bool", "str", "time", "list", "json"]
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class Column:
    """One output column: its name, where it comes from, and its kind (drives every format's type)."""

    name: str
    source: Any
    kind: Kind


_Current = aliased(Classification, name="current_classification")

COLUMNS: tuple[Column, ...] = (
    Column("id", Mention.id, "int"),
    Column("platform", Mention.platform, "str"),
    Column("external_id", Mention.external_id, "str"),
    Column("url", Mention.url, "str"),
    Column("brand", Brand.name, "str"),
    Column("brand_id", Mention.brand_id, "int"),
    Column("source_id", Mention.source_id, "int"),
    Column("author_id", Mention.author_id, "int"),
    Column("author_handle", Author.handle, "str"),
    Column("author_name", Author.display_name, "str"),
    Column("author_followers", Author.followers, "int"),
    Column("author_verified", Author.verified, "bool"),
    Column("text", Mention.text, "str"),
    Column("language", Mention.language, "str"),
    Column("created_at_utc", Mention.created_at, "time"),
    Column("fetched_at_utc", Mention.fetched_at, "time"),
    Column("conversation_id", Mention.conversation_id, "str"),
    Column("in_reply_to_external_id", Mention.in_reply_to_external_id, "str"),
    Column("is_brand_post", Mention.is_brand_post, "bool"),
    Column("like_count", Mention.like_count, "int"),
    Column("repost_count", Mention.repost_count, "int"),
    Column("reply_count", Mention.reply_count, "int"),
    Column("quote_count", Mention.quote_count, "int"),
    Column("metrics_updated_at_utc", Mention.metrics_updated_at, "time"),
    Column("replyable", Mention.replyable, "bool"),
    Column("replyable_reason", Mention.replyable_reason, "str"),
    Column("status", type_coerce(Mention.status, String(16)), "str"),  # the stored value, not the enum
    Column("assignee", User.username, "str"),
    Column("assignee_id", Mention.assignee_id, "int"),
    Column("assigned_at_utc", Mention.assigned_at, "time"),
    Column("sentiment", Mention.sentiment, "str"),
    Column("urgency", Mention.urgency, "str"),
    Column("priority", Mention.priority, "int"),
    Column("sla_due_at_utc", Mention.sla_due_at, "time"),
    Column("first_response_at_utc", Mention.first_response_at, "time"),
    Column("resolved_at_utc", Mention.resolved_at, "time"),
    Column("updated_at_utc", Mention.updated_at, "time"),
    Column("model_name", _Current.model_name, "str"),
    Column("model_version", _Current.model_version, "str"),
    Column("model_sentiment", _Current.sentiment, "str"),
    Column("p_negative", _Current.p_negative, "float"),
    Column("p_neutral", _Current.p_neutral, "float"),
    Column("p_positive", _Current.p_positive, "float"),
    Column("model_urgency", _Current.urgency, "str"),
    Column("urgency_score", _Current.urgency_score, "float"),
    Column("model_priority", _Current.priority, "int"),
    Column("topics", _Current.topics, "list"),
    Column("model_language", _Current.language, "str"),
    Column("classified_at_utc", _Current.created_at, "time"),
)
RAW_COLUMN = Column("raw_json", Mention.raw, "json")
"""The platform's original payload; large, so only on request."""


def columns_for(include_raw: bool = False) -> tuple[Column, ...]:
    """The export's columns, in order."""
    return (*COLUMNS, RAW_COLUMN) if include_raw else COLUMNS


@dataclass(frozen=True)
class MentionFilters:
    """Any combination of filters; empty means "any".  ``until`` is exclusive."""

    since: datetime | None = None
    until: datetime | None = None
    brand_ids: Sequence[int] = ()
    platforms: Sequence[str] = ()
    statuses: Sequence[str] = ()
    sentiments: Sequence[str] = ()
    urgencies: Sequence[str] = ()
    topics: Sequence[str] = ()
    search: str = ""
    include_brand_posts: bool = True

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.since and self.until and self.until <= self.since:
            raise ValueError("until must be after since")


def escape_like(term: str) -> str:
    """A user's search term as a literal LIKE pattern piece.

    NUL is dropped: PostgreSQL refuses it in any text (a query with one fails, and no stored mention holds one).
    """
    return term.replace("\x00", "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where(filters: MentionFilters) -> list[Any]:
    """WHERE clauses for the filters (created_at, brand and status use indexes)."""
    clauses: list[Any] = []
    if filters.since:
        clauses.append(Mention.created_at >= filters.since)
    if filters.until:
        clauses.append(Mention.created_at < filters.until)
    for column, values in (
        (Mention.brand_id, filters.brand_ids),
        (Mention.platform, filters.platforms),
        (Mention.status, filters.statuses),
        (Mention.sentiment, filters.sentiments),
        (Mention.urgency, filters.urgencies),
    ):
        if values:
            clauses.append(column.in_(list(values)))
    if not filters.include_brand_posts:
        clauses.append(Mention.is_brand_post.is_(False))
    for word in filters.search.split():
        clauses.append(Mention.text.ilike(f"%{escape_like(word)}%", escape="\\"))
    if filters.topics:
        clauses.append(_has_topic(filters.topics))
    return clauses


def _has_topic(topics: Sequence[str]) -> Any:
    """Current classification names one of ``topics`` (JSON containment, portable as a LIKE on the text)."""
    tagged = aliased(Classification, name="topic_classification")
    patterns = [f'%"{escape_like(t)}"%' for t in topics]
    return exists().where(
        tagged.mention_id == Mention.id,
        tagged.is_current,  # bare, as in base_query: the partial unique index applies
        or_(*[cast(tagged.topics, String).like(p, escape="\\") for p in patterns]),
    )


def base_query(columns: Sequence[Column], filters: MentionFilters) -> Select[Any]:
    """SELECT the columns with the joins they need, filtered, oldest first."""
    return (
        select(*[c.source for c in columns])
        .select_from(Mention)
        .outerjoin(Brand, Brand.id == Mention.brand_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(User, User.id == Mention.assignee_id)
        # A bare is_current, not "IS true", matches the partial unique index on (mention_id) WHERE is_current.
        .outerjoin(_Current, and_(_Current.mention_id == Mention.id, _Current.is_current))
        .where(*where(filters))
        .order_by(Mention.created_at, Mention.id)
    )


def count(session: Session, filters: MentionFilters) -> int:
    """How many mentions match (for progress bars and pagers)."""
    return int(session.scalar(select(func.count()).select_from(Mention).where(*where(filters))) or 0)
