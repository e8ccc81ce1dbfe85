"""Idempotent bulk ingest: one call stores a batch, its authors and the source cursor.

The caller owns the transaction: nothing here commits, so a crash before the caller's commit
leaves neither mentions nor an advanced cursor behind.  Records are read structurally (any
object with the attributes of :class:`IncomingMention`), which keeps ``storage`` free of
``connectors`` imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.enums import MentionStatus
from storage.models import Author, Mention, Source, utcnow

KEY_CHUNK = 900
"""Keys per IN (...) query: below SQLite's historic 999-variable limit."""

_METRIC_COLUMNS = ("like_count", "repost_count", "reply_count", "quote_count")


class IncomingAuthor(Protocol):
    """What ingest reads from an author record."""

    platform: str
    external_id: str
    handle: str
    display_name: str | None
    followers: int
    verified: bool


class IncomingMetrics(Protocol):
    """Engagement counters of a record."""

    likes: int
    reposts: int
    replies: int
    quotes: int


class IncomingMention(Protocol):
    """What ingest reads from a mention record (``connectors.base.Mention`` fits)."""

    platform: str
    external_id: str
    text: str
    created_at: datetime
    author: IncomingAuthor | None
    url: str | None
    language: str | None
    conversation_id: str | None
    in_reply_to_id: str | None
    metrics: IncomingMetrics
    replyable: bool
    replyable_reason: str
    is_brand_post: bool
    raw: Mapping[str, Any]
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Counts for one batch.

    ``new`` rows were inserted; ``updated`` were already stored and had their engagement
    metrics refreshed; ``duplicates`` were already stored unchanged, or repeated in the batch.
    """

    new: int = 0
    updated: int = 0
    duplicates: int = 0
    authors: int = 0

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.new + other.new,
            self.updated + other.updated,
            self.duplicates + other.duplicates,
            self.authors + other.authors,
        )


class _Unset:
    """Marker: leave the source cursor as it is."""


UNCHANGED = _Unset()


def _upsert(session: Session, table: Table) -> Any:
    """The dialect's INSERT that understands ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"ingest supports sqlite and postgresql, not {dialect}")


def _dedupe(mentions: Iterable[IncomingMention]) -> tuple[list[IncomingMention], int]:
    """Keep the last delivery of each (platform, external_id); count the rest."""
    latest: dict[tuple[str, str], IncomingMention] = {}
    total = 0
    for m in mentions:
        total += 1
        latest[(m.platform, m.external_id)] = m
    return list(latest.values()), total - len(latest)


def _chunks(items: Sequence[Any], size: int = KEY_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_authors(session: Session, authors: Iterable[IncomingAuthor]) -> dict[tuple[str, str], int]:
    """Insert or refresh authors; return their ids by (platform, external_id)."""
    unique: dict[tuple[str, str], IncomingAuthor] = {}
    for a in authors:
        unique[(a.platform, a.external_id)] = a
    if not unique:
        return {}
    now = utcnow()
    rows = [
        {
            "platform": a.platform,
            "external_id": a.external_id,
            "handle": a.handle,
            "display_name": a.display_name,
            "followers": int(a.followers or 0),
            "verified": bool(a.verified),
            "is_vip": False,
            "first_seen_at": now,
            "updated_at": now,
        }
        for a in unique.values()
    ]
    table = Author.__table__
    stmt = _upsert(session, table)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "external_id"],
        set_={
            "handle": stmt.excluded.handle,
            "display_name": stmt.excluded.display_name,
            "followers": stmt.excluded.followers,
            "verified": stmt.excluded.verified,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.execute(stmt, rows)
    return _author_ids(session, list(unique))


def _author_ids(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    for platform, ext_ids in _group_by_platform(keys).items():
        for chunk in _chunks(ext_ids):
            query = select(Author.id, Author.external_id).where(
                Author.platform == platform, Author.external_id.in_(chunk)
            )
            for author_id, external_id in session.execute(query):
                ids[(platform, external_id)] = author_id
    return ids


def _group_by_platform(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for platform, external_id in keys:
        grouped.setdefault(platform, []).append(external_id)
    return grouped


def _stored_metrics(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    stored: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    cols = [getattr(Mention, c) for c in _METRIC_COLUMNS]
    for platform, ext_ids in _group_by_platform(keys).items():
        for chunk in _chunks(ext_ids):
            query = select(Mention.external_id, *cols).where(
                Mention.platform == platform, Mention.external_id.in_(chunk)
            )
            for external_id, *metrics in session.execute(query):
                stored[(platform, external_id)] = tuple(metrics)  # type: ignore[assignment]
    return stored


def _metrics_of(m: IncomingMention) -> tuple[int, int, int, int]:
    x = m.metrics
    return (int(x.likes or 0), int(x.reposts or 0), int(x.replies or 0), int(x.quotes or 0))


def _mention_row(
    m: IncomingMention, author_id: int | None, source_id: int | None, brand_id: int | None, now: datetime
) -> dict[str, Any]:
    likes, reposts, replies, quotes = _metrics_of(m)
    return {
        "platform": m.platform,
        "external_id": m.external_id,
        "source_id": source_id,
        "brand_id": brand_id,
        "author_id": author_id,
        "text": m.text,
        "language": m.language,
        "url": m.url,
        "created_at": m.created_at,
        "fetched_at": m.fetched_at,
        "conversation_id": m.conversation_id,
        "in_reply_to_external_id": m.in_reply_to_id,
        "is_brand_post": bool(m.is_brand_post),
        "like_count": likes,
        "repost_count": reposts,
        "reply_count": replies,
        "quote_count": quotes,
        "metrics_updated_at": now,
        "replyable": bool(m.replyable) and not m.is_brand_post,
        "replyable_reason": m.replyable_reason,
        "raw": dict(m.raw),
        "status": MentionStatus.NEW.value,
        "updated_at": now,
    }


def _upsert_mentions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new rows; refresh metrics of stored ones only when they changed."""
    table = Mention.__table__
    stmt = _upsert(session, table)  # type: ignore[arg-type]
    changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in _METRIC_COLUMNS))
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "external_id"],
        set_={
            **{c: stmt.excluded[c] for c in _METRIC_COLUMNS},
            "metrics_updated_at": stmt.excluded.metrics_updated_at,
        },
        where=changed,
    )
    session.execute(stmt, rows)


def _record_native_replies(session: Session, mentions: Sequence[IncomingMention]) -> None:
    """A brand post answering a mention is that mention's first response, wherever it was sent from."""
    for m in mentions:
        if not (m.is_brand_post and m.in_reply_to_id):
            continue
        session.execute(
            update(Mention)
            .where(
                and_(
                    Mention.platform == m.platform,
                    Mention.external_id == m.in_reply_to_id,
                    Mention.first_response_at.is_(None),
                )
            )
            .values(first_response_at=m.created_at)
        )


def save_cursor(
    session: Session, source_id: int, cursor: str | None, *, new: int = 0, reads: int = 0
) -> None:
    """Move a source's cursor (and its counters) inside the caller's transaction."""
    now = utcnow()
    session.execute(
        update(Source)
        .where(Source.id == source_id)
        .values(
            cursor=cursor,
            cursor_updated_at=now,
            mentions_ingested=Source.mentions_ingested + new,
            reads_used=Source.reads_used + reads,
        )
    )


def ingest_batch(
    session: Session,
    mentions: Iterable[IncomingMention],
    *,
    source_id: int | None = None,
    brand_id: int | None = None,
    next_cursor: str | None | _Unset = UNCHANGED,
    reads: int = 0,
) -> IngestResult:
    """Store a batch idempotently and, with ``source_id``, move its cursor in the same transaction."""
    unique, in_batch_dupes = _dedupe(mentions)
    if not unique:
        if source_id is not None and not isinstance(next_cursor, _Unset):
            save_cursor(session, source_id, next_cursor, reads=reads)
        return IngestResult(duplicates=in_batch_dupes)
    author_ids = upsert_authors(session, (m.author for m in unique if m.author is not None))
    keys = [(m.platform, m.external_id) for m in unique]
    stored = _stored_metrics(session, keys)
    now = utcnow()
    rows, new, updated, dupes = [], 0, 0, in_batch_dupes
    for m in unique:
        author_id = author_ids.get((m.author.platform, m.author.external_id)) if m.author else None
        rows.append(_mention_row(m, author_id, source_id, brand_id, now))
        previous = stored.get((m.platform, m.external_id))
        if previous is None:
            new += 1
        elif previous != _metrics_of(m):
            updated += 1
        else:
            dupes += 1
    _upsert_mentions(session, rows)
    _record_native_replies(session, unique)
    if source_id is not None and not isinstance(next_cursor, _Unset):
        save_cursor(session, source_id, next_cursor, new=new, reads=reads)
    return IngestResult(new=new, updated=updated, duplicates=dupes, authors=len(author_ids))


__all__ = ["UNCHANGED", "IngestResult", "IncomingMention", "ingest_batch", "save_cursor", "upsert_authors"]
