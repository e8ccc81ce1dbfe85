"""Idempotent bulk ingest: one call stores a batch, its authors and the source cursor.

The caller owns the transaction: nothing here commits, so a crash before the caller's commit
leaves neither mentions nor an advanced cursor behind.  Records are read structurally (any
object with the attributes of :class:`IncomingMention`), which keeps ``storage`` free of
``connectors`` imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.enums import MentionStatus
from storage.models import Mention, Source, utcnow
from storage.staging import Column, converters, stage
from storage.types import UTCDateTime

_METRIC_COLUMNS = ("like_count", "repost_count", "reply_count", "quote_count")


class IncomingAuthor(Protocol):
    """What ingest reads from an author record.

    Members are read-only properties so frozen records (``connectors.base.Author``) satisfy them.
    """

    @property
    def platform(self) -> str: ...

    @property
    def external_id(self) -> str: ...

    @property
    def handle(self) -> str: ...

    @property
    def display_name(self) -> str | None: ...

    @property
    def followers(self) -> int: ...

    @property
    def verified(self) -> bool: ...


class IncomingMetrics(Protocol):
    """Engagement counters of a record."""

    @property
    def likes(self) -> int: ...

    @property
    def reposts(self) -> int: ...

    @property
    def replies(self) -> int: ...

    @property
    def quotes(self) -> int: ...


class IncomingMention(Protocol):
    """What ingest reads from a mention record (``connectors.base.Mention`` fits).

    Read-only properties, not attributes: a frozen dataclass satisfies them, and ingest never writes to a record.
    """

    @property
    def platform(self) -> str:
        """Network the record came from (a ``connectors.base.Platform`` value)."""
        ...

    @property
    def external_id(self) -> str:
        """The platform's id, unique per platform: the key that makes ingest idempotent."""
        ...

    @property
    def text(self) -> str:
        """Body as posted."""
        ...

    @property
    def created_at(self) -> datetime:
        """When the platform says it was posted (aware)."""
        ...

    @property
    def author(self) -> IncomingAuthor | None:
        """Who posted it, when the platform says."""
        ...

    @property
    def url(self) -> str | None:
        """Link to the post on the platform."""
        ...

    @property
    def language(self) -> str | None:
        """Language code, when the platform or a detector gives one."""
        ...

    @property
    def conversation_id(self) -> str | None:
        """The platform's id of the thread root."""
        ...

    @property
    def in_reply_to_id(self) -> str | None:
        """The platform's id of the post this one answers."""
        ...

    @property
    def metrics(self) -> IncomingMetrics:
        """Engagement counters; a re-delivery refreshes the stored ones."""
        ...

    @property
    def replyable(self) -> bool:
        """Whether a reply can be sent to it from the console."""
        ...

    @property
    def replyable_reason(self) -> str:
        """Why it can or cannot be answered, stored beside ``replyable``."""
        ...

    @property
    def is_brand_post(self) -> bool:
        """The brand's own post: threaded, never queued."""
        ...

    @property
    def raw(self) -> Mapping[str, Any]:
        """The original payload, kept for provenance."""
        ...

    @property
    def fetched_at(self) -> datetime:
        """When mentiondesk fetched it (aware)."""
        ...


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


AUTHOR_STAGE = "_md_stage_authors"
MENTION_STAGE = "_md_stage_mentions"
AUTHOR_COLUMNS: list[Column] = [
    ("platform", "text"),
    ("external_id", "text"),
    ("handle", "text"),
    ("display_name", "text"),
    ("followers", "int"),
    ("verified", "bool"),
]
MENTION_COLUMNS: list[Column] = [
    ("platform", "text"),
    ("external_id", "text"),
    ("text", "text"),
    ("language", "text"),
    ("url", "text"),
    ("created_at", "time"),
    ("fetched_at", "time"),
    ("conversation_id", "text"),
    ("in_reply_to", "text"),
    ("is_brand_post", "bool"),
    ("like_count", "int"),
    ("repost_count", "int"),
    ("reply_count", "int"),
    ("quote_count", "int"),
    ("replyable", "bool"),
    ("replyable_reason", "text"),
    ("raw", "json"),
    ("author_platform", "text"),
    ("author_external_id", "text"),
]


def _dedupe(mentions: Iterable[IncomingMention]) -> tuple[list[IncomingMention], int]:
    """Keep the last delivery of each (platform, external_id); count the rest."""
    latest: dict[tuple[str, str], IncomingMention] = {}
    total = 0
    for m in mentions:
        total += 1
        latest[(m.platform, m.external_id)] = m
    return list(latest.values()), total - len(latest)


def _distinct(dialect: str, a: str, b: str) -> str:
    return f"{a} IS NOT {b}" if dialect == "sqlite" else f"{a} IS DISTINCT FROM {b}"


def _author_rows(mentions: Sequence[IncomingMention], conv: dict[str, Any]) -> list[tuple[Any, ...]]:
    to_bool = conv["bool"]
    unique: dict[tuple[str, str], IncomingAuthor] = {}
    for m in mentions:
        if m.author is not None:
            unique[(m.author.platform, m.author.external_id)] = m.author
    return [
        (a.platform, a.external_id, a.handle, a.display_name, int(a.followers or 0), to_bool(a.verified))
        for a in unique.values()
    ]


def _mention_rows(
    mentions: Sequence[IncomingMention], conv: dict[str, Any], tail: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """One tuple per mention in MENTION_COLUMNS order, then ``tail`` (SQLite's per-batch values)."""
    to_time, to_json, to_bool = conv["time"], conv["json"], conv["bool"]
    rows = []
    for m in mentions:
        x, a = m.metrics, m.author
        rows.append(
            (
                m.platform,
                m.external_id,
                m.text,
                m.language,
                m.url,
                to_time(m.created_at),
                to_time(m.fetched_at),
                m.conversation_id,
                m.in_reply_to_id,
                to_bool(m.is_brand_post),
                int(x.likes or 0),
                int(x.reposts or 0),
                int(x.replies or 0),
                int(x.quotes or 0),
                to_bool(m.replyable and not m.is_brand_post),
                m.replyable_reason,
                to_json(dict(m.raw)),
                a.platform if a else None,
                a.external_id if a else None,
                *tail,
            )
        )
    return rows


def _upsert_authors_sql(dialect: str) -> str:
    """SQLite takes the rows straight from ``executemany``; PostgreSQL from the COPY staging table.

    A sparse delivery never erases what a fuller one said: a handle of ``unknown`` (an X post without its
    author expansion), a missing display name and 0 followers (a network or a failed look-up that does not
    say) keep the stored values.
    """
    fields = ("handle", "display_name", "followers", "verified")
    changed = " OR ".join(_distinct(dialect, f"authors.{c}", f"excluded.{c}") for c in fields)
    rows = (
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        if dialect == "sqlite"
        else "SELECT platform, external_id, handle, display_name, followers, verified, false, :now, :now "
        f"FROM {AUTHOR_STAGE} WHERE true"
    )
    return f"""
        INSERT INTO authors (platform, external_id, handle, display_name, followers, verified, is_vip,
                             first_seen_at, updated_at)
        {rows}
        ON CONFLICT (platform, external_id) DO UPDATE SET
            handle = CASE WHEN excluded.handle = 'unknown' THEN authors.handle ELSE excluded.handle END,
            display_name = COALESCE(excluded.display_name, authors.display_name),
            followers = CASE WHEN excluded.followers = 0 THEN authors.followers ELSE excluded.followers END,
            verified = excluded.verified, updated_at = excluded.updated_at
        WHERE {changed}
    """  # noqa: S608 - table names are module constants, values are bound


def _upsert_mentions_sql(dialect: str) -> str:
    changed = " OR ".join(_distinct(dialect, f"mentions.{c}", f"excluded.{c}") for c in _METRIC_COLUMNS)
    return f"""
        INSERT INTO mentions (platform, external_id, source_id, brand_id, author_id, text, language, url,
            created_at, fetched_at, conversation_id, in_reply_to_external_id, is_brand_post, like_count,
            repost_count, reply_count, quote_count, metrics_updated_at, replyable, replyable_reason, raw,
            status, updated_at)
        SELECT s.platform, s.external_id, :source_id, :brand_id, a.id, s.text, s.language, s.url,
            s.created_at, s.fetched_at, s.conversation_id, s.in_reply_to, s.is_brand_post, s.like_count,
            s.repost_count, s.reply_count, s.quote_count, :now, s.replyable, s.replyable_reason, s.raw,
            :status, :now
        FROM {MENTION_STAGE} s
        LEFT JOIN authors a ON a.platform = s.author_platform AND a.external_id = s.author_external_id
        WHERE true
        ON CONFLICT (platform, external_id) DO UPDATE SET
            like_count = excluded.like_count, repost_count = excluded.repost_count,
            reply_count = excluded.reply_count, quote_count = excluded.quote_count,
            metrics_updated_at = excluded.metrics_updated_at
        WHERE {changed}
        RETURNING (xmax = 0)
    """  # noqa: S608


def _store_authors(session: Session, mentions: Sequence[IncomingMention], conv: dict[str, Any], now: datetime) -> int:
    rows = _author_rows(mentions, conv)
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":  # straight in, as for mentions: a staging table only pays off with COPY
        stamp = conv["time"](now)
        session.connection().exec_driver_sql(_SQLITE_AUTHOR_UPSERT, [(*row, 0, stamp, stamp) for row in rows])
        return len(rows)
    stage(session, AUTHOR_STAGE, AUTHOR_COLUMNS, rows)
    statement = text(_upsert_authors_sql(dialect)).bindparams(bindparam("now", type_=UTCDateTime))
    session.execute(statement, {"now": now})
    return len(rows)


def _store_mentions(
    session: Session,
    mentions: Sequence[IncomingMention],
    conv: dict[str, Any],
    now: datetime,
    source_id: int | None,
    brand_id: int | None,
) -> tuple[int, int]:
    """Upsert; return (inserted, updated).  PostgreSQL goes through COPY + staging, SQLite straight in."""
    if session.get_bind().dialect.name == "sqlite":
        stamp = conv["time"](now)
        tail = (source_id, brand_id, stamp, MentionStatus.NEW.value, stamp)
        return _store_mentions_sqlite(session, _mention_rows(mentions, conv, tail))
    rows = _mention_rows(mentions, conv)
    stage(session, MENTION_STAGE, MENTION_COLUMNS, rows)
    statement = text(_upsert_mentions_sql("postgresql")).bindparams(bindparam("now", type_=UTCDateTime))
    params = {"now": now, "source_id": source_id, "brand_id": brand_id, "status": MentionStatus.NEW.value}
    inserted_flags = [row[0] for row in session.execute(statement, params)]
    inserted = sum(1 for was_insert in inserted_flags if was_insert)
    return inserted, len(inserted_flags) - inserted


def _sqlite_upsert_sql() -> str:
    changed = " OR ".join(_distinct("sqlite", f"mentions.{c}", f"excluded.{c}") for c in _METRIC_COLUMNS)
    return f"""
        INSERT INTO mentions (platform, external_id, text, language, url, created_at, fetched_at,
            conversation_id, in_reply_to_external_id, is_brand_post, like_count, repost_count, reply_count,
            quote_count, replyable, replyable_reason, raw, author_id, source_id, brand_id,
            metrics_updated_at, status, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
            (SELECT id FROM authors WHERE platform = ? AND external_id = ?), ?, ?, ?, ?, ?)
        ON CONFLICT (platform, external_id) DO UPDATE SET
            like_count = excluded.like_count, repost_count = excluded.repost_count,
            reply_count = excluded.reply_count, quote_count = excluded.quote_count,
            metrics_updated_at = excluded.metrics_updated_at
        WHERE {changed}
    """  # noqa: S608


_SQLITE_UPSERT = _sqlite_upsert_sql()
_SQLITE_AUTHOR_UPSERT = _upsert_authors_sql("sqlite")


def _store_mentions_sqlite(session: Session, rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """One executemany; SQLite has one writer at a time, so new rowids are exactly those above the old maximum."""
    before = session.scalar(select(func.max(Mention.id))) or 0
    result = session.connection().exec_driver_sql(_SQLITE_UPSERT, rows)
    changed = max(result.rowcount, 0)
    inserted = (session.scalar(select(func.max(Mention.id))) or 0) - before
    return inserted, changed - inserted


def _record_native_replies(session: Session, mentions: Sequence[IncomingMention]) -> None:
    """A brand post answering a mention stops its SLA clock and is its first response, wherever it was sent from.

    A reply older than the round it would stop (a reopened mention) answers an earlier round, not this one.
    """
    for m in mentions:
        if not (m.is_brand_post and m.in_reply_to_id):
            continue
        target = and_(Mention.platform == m.platform, Mention.external_id == m.in_reply_to_id)
        session.execute(
            update(Mention)
            .where(target, Mention.first_response_at.is_(None))
            .values(first_response_at=m.created_at, updated_at=utcnow())
        )
        waiting = or_(Mention.sla_started_at.is_(None), Mention.sla_started_at <= m.created_at)
        session.execute(
            update(Mention)
            .where(target, Mention.sla_responded_at.is_(None), waiting)
            .values(sla_responded_at=m.created_at, updated_at=utcnow())
        )


def save_cursor(session: Session, source_id: int, cursor: str | None, *, new: int = 0, reads: int = 0) -> None:
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
    new = updated = authors = 0
    if unique:
        now = utcnow()
        conv = converters(session.get_bind().dialect.name)
        authors = _store_authors(session, unique, conv, now)
        new, updated = _store_mentions(session, unique, conv, now, source_id, brand_id)
        _record_native_replies(session, unique)
    if source_id is not None and not isinstance(next_cursor, _Unset):
        save_cursor(session, source_id, next_cursor, new=new, reads=reads)
    duplicates = in_batch_dupes + len(unique) - new - updated
    return IngestResult(new=new, updated=updated, duplicates=duplicates, authors=authors)


# --- Row isolation: a value the database refuses costs its own record, never the batch ----------------

_ROW_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
"""PostgreSQL's data exceptions, integrity violations and program limits (e.g. ``stack depth``): one record's fault."""
_DRIVERS = frozenset({"psycopg", "sqlite3"})
_ROW_ERROR_NAMES = frozenset({"DataError", "IntegrityError"})


@dataclass(frozen=True, slots=True)
class Refused:
    """A record the database refused: its position in the batch given, and the database's reason in words."""

    index: int
    reason: str


def is_row_error(exc: BaseException) -> bool:
    """True when ``exc`` is about the values of the statement, not the database: retrying without them helps.

    A lock, a timeout, a lost connection or a missing table is never a row error: those are raised as they
    came, so the caller retries or stops instead of dropping records.  Errors from the COPY of the staging
    table come straight from the driver, not wrapped by SQLAlchemy, and count the same.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return False
    inner = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(inner, "sqlstate", None)
    if isinstance(state, str) and state:
        return state[:2] in _ROW_SQLSTATE_CLASSES
    if type(inner).__module__.split(".")[0] in _DRIVERS:  # e.g. psycopg's own "cannot contain NUL" DataError
        return not _ROW_ERROR_NAMES.isdisjoint(cls.__name__ for cls in type(inner).__mro__)
    # Raised while binding or encoding one value: an integer past 64 bits, a lone surrogate, JSON too deep.
    return isinstance(inner, ValueError | TypeError | OverflowError | RecursionError)


def refusal_reason(exc: BaseException) -> str:
    """The database's own first line, without the SQL or its parameters (they may hold a 10 MB text)."""
    inner = exc.orig if isinstance(exc, DBAPIError) else exc
    first = (str(inner).strip().splitlines() or [type(inner).__name__])[0]
    first = first if len(first) <= 200 else first[:199] + "…"
    return f"the database refused it: {first}"


def _open_transaction(session: Session) -> None:
    """Begin SQLite's transaction now, so savepoints nest inside the caller's transaction.

    pysqlite begins it at the first write: a SAVEPOINT before that would be the outer transaction, and
    releasing it a commit.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    driver = conn.connection.driver_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")


StoreBatch = Callable[..., IngestResult]
"""What stores one batch: :func:`ingest_batch`, or a caller's wrapper of it."""


def _try_in_halves(
    session: Session, items: list[tuple[int, IncomingMention]], store: StoreBatch, **where: int | None
) -> tuple[IngestResult, list[tuple[int, Exception]]]:
    """Store ``items`` under a savepoint; when the database refuses a value, halve until each refusal stands alone."""
    try:
        with session.begin_nested():
            return store(session, [m for _, m in items], **where), []
    except Exception as exc:
        if not is_row_error(exc):
            raise
        if len(items) == 1:
            return IngestResult(), [(items[0][0], exc)]
    middle = len(items) // 2
    first, first_refused = _try_in_halves(session, items[:middle], store, **where)
    second, second_refused = _try_in_halves(session, items[middle:], store, **where)
    return first + second, first_refused + second_refused


def ingest_isolated(
    session: Session,
    mentions: Sequence[IncomingMention],
    *,
    source_id: int | None = None,
    brand_id: int | None = None,
    next_cursor: str | None | _Unset = UNCHANGED,
    reads: int = 0,
    store_batch: StoreBatch = ingest_batch,
) -> tuple[IngestResult, list[Refused]]:
    """As :func:`ingest_batch`, but a record the database refuses is left out and named, not fatal to the batch.

    The batch goes in under one savepoint, so a clean batch costs what it did.  When the database refuses a
    value (:func:`is_row_error`), the savepoint is rolled back and the batch is split in halves until each
    refused record stands alone: k bad records in n cost about 2·k·log2(n) extra statements.  When every
    record of a batch of several is refused, the fault is not in the records (a brand that is gone, a schema
    that is behind): that error is raised as it came, so nothing is dropped and the cursor does not move.
    ``store_batch`` stores each attempt (``ingest_batch`` unless the caller wraps it).
    """
    latest: dict[tuple[str, str], tuple[int, IncomingMention]] = {}
    for index, m in enumerate(mentions):
        latest[(m.platform, m.external_id)] = (index, m)
    items = sorted(latest.values(), key=lambda item: item[0])
    result = IngestResult(duplicates=len(mentions) - len(items))
    refused: list[tuple[int, Exception]] = []
    if items:
        _open_transaction(session)
        stored, refused = _try_in_halves(session, items, store_batch, source_id=source_id, brand_id=brand_id)
        if refused and len(refused) == len(items) > 1:
            raise refused[0][1]
        result += stored
    if source_id is not None and not isinstance(next_cursor, _Unset):
        save_cursor(session, source_id, next_cursor, new=result.new, reads=reads)
    return result, [Refused(index, refusal_reason(exc)) for index, exc in refused]


__all__ = [
    "UNCHANGED",
    "IncomingMention",
    "IngestResult",
    "Refused",
    "ingest_batch",
    "ingest_isolated",
    "is_row_error",
    "save_cursor",
]
