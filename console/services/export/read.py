"""Matching mentions as typed Arrow batches, read through Apache Arrow's ADBC drivers, the joins done in SQL.

The drivers decode rows into Arrow in C (PostgreSQL's through a binary ``COPY``; SQLite's steps the query and
fills Arrow builders), so no cell becomes a Python object.  PostgreSQL runs one query in its own process, read
a batch ahead in a second thread.  SQLite runs in this one, where stepping the query is most of an export's
work: it is cut into ``created_at`` ranges read in turns by two connections on one state of the store, each
in its own thread.  Filter values are quoted into the SQL: with bound parameters the PostgreSQL driver runs a
prepared statement and holds the whole result in memory instead of streaming it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite.dbapi
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Text, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from console.services.errors import ServiceError
from console.services.mention_query import CHUNK_ROWS, Column, MentionFilters, base_query, where
from console.services.permissions import Actor, Permission, require
from console.services.sql_time import is_postgres
from storage.db import SQLITE_BUSY_TIMEOUT_MS
from storage.models import Mention

ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "time": pa.timestamp("us", tz="UTC"),
    "list": pa.list_(pa.string()),
    "json": pa.string(),
}
SQLITE_FIRST_ROW: dict[str, Any] = {"int": 0, "bool": 0, "float": 0.5}
"""A typed first row's value by kind, text for the others: SQLite's driver types each column from its first
batch, and one that is NULL all through it would become int64 and fail at the first text."""
SQLITE_READERS = 2
"""Connections reading a SQLite export's parts at once: one per core."""
SQLITE_PART_ROWS = CHUNK_ROWS
"""Rows per part: each is held whole while it waits its turn to be written."""
POSTGRES_SETTINGS = ("SET jit = off",)
"""JIT compiles the export query's expressions for longer than it saves on them (docs/benchmarks.md, "Issue 13")."""


class ExportUnavailable(ServiceError):
    """The store cannot be exported: an in-memory SQLite database, or PostgreSQL unreachable through ADBC."""


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Parquet (and notebook) schema: one typed column per export column."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in columns])


def mention_batches(
    session: Session,
    actor: Actor,
    filters: MentionFilters,
    columns: Sequence[Column],
    *,
    limit: int | None = None,
    canonical_json: bool = True,
) -> Generator[pa.RecordBatch, None, None]:
    """The matching mentions, oldest first, as batches of :func:`arrow_schema`.

    ``json`` columns hold the payload's JSON text with sorted keys, or as the store prints it when not
    ``canonical_json`` (for a writer that parses it again).  Raises :class:`ExportUnavailable`, and
    :class:`~console.services.permissions.PermissionDenied` at the call (not at the first batch) to a role
    without ``EXPORT``.

    Makes the C library's allocator Arrow's default, for the whole process: Arrow's own (mimalloc) keeps what
    one thread frees of another thread's blocks, and batches are made by the reading threads, freed by this one.
    """
    require(actor, Permission.EXPORT)
    return _batches(session, filters, columns, limit, canonical_json)


def _batches(
    session: Session, filters: MentionFilters, columns: Sequence[Column], limit: int | None, canonical_json: bool
) -> Generator[pa.RecordBatch, None, None]:
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    schema = arrow_schema(columns)
    postgres = is_postgres(session)
    reading = _postgres(session, columns, filters, limit) if postgres else _sqlite(session, columns, filters, limit)
    with reading as batches:
        for batch in batches:
            yield _typed(batch, columns, schema, canonical_json)


def _query(session: Session, columns: Sequence[Column], filters: MentionFilters, limit: int | None) -> str:
    """The export query's SQL, filters quoted in, columns labelled ``c0``...; JSON as text."""
    postgres = is_postgres(session)
    sent = [
        c.source if c.kind not in ("list", "json") else cast(c.source, Text) if postgres else func.json(c.source)
        for c in columns
    ]
    labelled = [Column(f"c{i}", s.label(f"c{i}"), c.kind) for i, (c, s) in enumerate(zip(columns, sent, strict=True))]
    query = base_query(labelled, filters).limit(limit)
    dialect = session.get_bind().dialect
    if postgres:
        compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        driver: Any = session.connection().connection.driver_connection  # quoted as psycopg's client-side binding
        return psycopg.ClientCursor(driver).mogrify(compiled.string, compiled.construct_params())
    # SQLite's driver types each column from its first batch: one typed row goes first, and is dropped after.
    first = select(*[literal(SQLITE_FIRST_ROW.get(c.kind, "")).label(f"c{i}") for i, c in enumerate(columns)])
    typed = union_all(first, select(query.subquery()))  # SQLite runs the branches in order, keeping their order
    return str(typed.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@contextlib.contextmanager
def _postgres(
    session: Session, columns: Sequence[Column], filters: MentionFilters, limit: int | None
) -> Iterator[Iterator[pa.RecordBatch]]:
    sql = _query(session, columns, filters, limit)
    uri = session.get_bind().engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = adbc_driver_postgresql.dbapi.connect(uri, autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any driver error: say what it was
        raise ExportUnavailable(f"cannot read PostgreSQL through ADBC ({type(exc).__name__}: {exc})") from exc
    with connection, connection.cursor() as cursor, ThreadPoolExecutor(1, thread_name_prefix="export-read") as pool:
        for setting in POSTGRES_SETTINGS:
            cursor.execute(setting)
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        try:
            yield _read_ahead(pool, reader)
        except BaseException:
            with contextlib.suppress(Exception):  # stopped early: end the COPY rather than read the rest
                cursor.adbc_cancel()
            raise
        finally:
            reader.close()


def _read_ahead(pool: ThreadPoolExecutor, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    ahead = pool.submit(next, batches, None)
    while (batch := ahead.result()) is not None:
        ahead = pool.submit(next, batches, None)
        yield batch


@contextlib.contextmanager
def _sqlite(
    session: Session, columns: Sequence[Column], filters: MentionFilters, limit: int | None
) -> Iterator[Iterator[pa.RecordBatch]]:
    path = session.get_bind().engine.url.database
    if not path or path == ":memory:" or path.startswith("file:") or not Path(path).is_file():
        raise ExportUnavailable("exports read a SQLite store from its file, and this one has none (in memory)")
    with contextlib.ExitStack() as stack:
        fence = stack.enter_context(contextlib.closing(sqlite3.connect(path, SQLITE_BUSY_TIMEOUT_MS / 1000)))
        fence.execute("BEGIN IMMEDIATE")  # writers wait (on their busy timeout) until every reader has begun
        cursors = []
        for _ in range(SQLITE_READERS):
            connection = stack.enter_context(adbc_driver_sqlite.dbapi.connect(path))  # in a transaction till closed
            cursors.append(stack.enter_context(connection.cursor()))
            cursors[-1].execute("SELECT count(*) FROM sqlite_master")  # the read transaction starts at a read
            cursors[-1].fetchall()
        fence.rollback()
        parts = [filters] if limit is not None else _parts(session, cursors[0], filters)
        sqls = (_query(session, columns, part, limit) for part in parts)  # each compiled as its turn comes
        yield _in_turns(stack.enter_context(ThreadPoolExecutor(len(cursors), "export-read")), cursors, sqls)


def _parts(session: Session, cursor: Any, filters: MentionFilters) -> list[MentionFilters]:
    """The filters cut into ``created_at`` ranges of about :data:`SQLITE_PART_ROWS` rows (ties in one range)."""
    times = select(Mention.created_at).where(*where(filters)).order_by(Mention.created_at)
    cursor.execute(str(times.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})))
    stored = cursor.fetch_arrow_table().column(0)
    picked = {
        datetime.fromisoformat(v).replace(tzinfo=UTC) for v in stored[SQLITE_PART_ROWS::SQLITE_PART_ROWS].to_pylist()
    }
    bounds = [filters.since, *sorted(t for t in picked if filters.since is None or t > filters.since), filters.until]
    return [dataclasses.replace(filters, since=lo, until=hi) for lo, hi in itertools.pairwise(bounds)]


def _in_turns(pool: ThreadPoolExecutor, cursors: Sequence[Any], sqls: Iterable[str]) -> Iterator[pa.RecordBatch]:
    """Each query's batches in order; query ``i`` read whole on cursor ``i % n`` while earlier ones are written."""
    n = len(cursors)
    reading: collections.deque[Future[list[pa.RecordBatch]]] = collections.deque()
    for i, sql in enumerate(sqls):
        done = reading.popleft().result() if len(reading) == n else []  # that query's cursor is free again
        reading.append(pool.submit(_read, cursors[i % n], sql))
        yield from done
    while reading:
        yield from reading.popleft().result()


def _read(cursor: Any, sql: str) -> list[pa.RecordBatch]:
    cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(CHUNK_ROWS)})
    cursor.execute(sql)
    with contextlib.closing(cursor.fetch_record_batch()) as reader:
        return [batch.slice(1) if i == 0 else batch for i, batch in enumerate(reader)]


def _typed(batch: pa.RecordBatch, columns: Sequence[Column], schema: pa.Schema, canonical: bool) -> pa.RecordBatch:
    """A driver's batch as the export's types (SQLite keeps times as text and booleans as numbers)."""
    arrays = []
    for array, column, field in zip(batch.columns, columns, schema, strict=True):
        if column.kind == "time" and not pa.types.is_timestamp(array.type):
            arrays.append(pc.cast(pc.cast(array, pa.timestamp("us")), field.type))  # naive UTC text
        elif column.kind == "list":
            arrays.append(_decoded(array, json.loads, field.type))
        elif column.kind == "json" and canonical:
            arrays.append(_decoded(array, _canonical_json, field.type))
        else:
            arrays.append(array.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _canonical_json(text: str) -> str:
    return json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)


def _decoded(printed: pa.Array, decode: Callable[[str], Any], target: pa.DataType) -> pa.Array:
    """JSON text decoded in Python once per distinct value: a batch's topic lists repeat."""
    encoded = printed.cast(pa.string()).dictionary_encode()
    values = pa.array([decode(v) for v in encoded.dictionary.to_pylist()], type=target)
    return values.take(encoded.indices)
