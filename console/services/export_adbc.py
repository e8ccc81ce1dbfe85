"""PostgreSQL Parquet exports through Apache Arrow's ADBC driver: binary ``COPY`` decoded into Arrow in C.

The CSV-based path (:func:`console.services.export_pg.parquet_batches`) has the server render
every time and number as text and Arrow parse it back.  The ADBC PostgreSQL driver runs the
query as ``COPY (...) TO STDOUT (FORMAT binary)`` and decodes the binary rows into Arrow record
batches in C (timestamptz as ``timestamp[us, tz=UTC]``, booleans, integers, doubles, text), so
neither side formats or parses text.  Batches stream: memory stays flat.

The parts, their split at the median ``created_at`` and the shared snapshot are those of
:mod:`console.services.export_pg`: a psycopg connection opens the REPEATABLE READ snapshot and
splits the filters, and each part runs on its own ADBC connection that imports that snapshot.

A big export (split in parts) reads the author, brand and assignee columns once per table
(:data:`LOOKUPS`, in the same snapshot, on a third connection while the parts start) and joins them in
Arrow by each row's key: the server then looks up only the current classification per row.

Filter values are rendered into the SQL by psycopg's client-side binding (``mogrify``, the
same quoting psycopg's ``copy()`` applies in the CSV path), not bound as ADBC parameters: with
bound parameters the driver runs a prepared statement and materialises the whole result in one
batch instead of streaming a ``COPY`` (measured: 3 GB resident for a million mentions).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import URL, Boolean, ColumnElement, Connection, Engine, String, Text, cast, select, text, type_coerce
from sqlalchemy.orm import Session

from console.services import export_pg, export_turns
from console.services.export_columns import topics_from_jsonb
from console.services.export_csv import csv_lines
from console.services.mention_query import Column, MentionFilters
from storage.models import Author, Brand, Mention, User

log = logging.getLogger(__name__)
T = TypeVar("T")

_MISSING = ""
try:  # imported with the module (~0.2 s), not in the first export's time
    import adbc_driver_postgresql.dbapi

    _DBAPI: Any = adbc_driver_postgresql.dbapi
except ImportError as exc:  # the CSV-based path is used instead
    _DBAPI, _MISSING = None, str(exc)

SETTINGS = (
    *export_pg.SETTINGS,
    "SET LOCAL jit = off",
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL enable_mergejoin = off",
)
"""The CSV path's settings, and three more.  JIT: server CPU per 500,000-row part 3.95 s on, 3.75 s off.
Without hash joins each part walks ``created_at``'s index and looks its authors, brands, assignees and current
classification up by key (memoized for the few brands and users), so rows stream out already in order: no hash
of half the mentions and no sort of every wide row before the first row (server CPU per 500,000-row part
4.1 -> 3.7 s, and the client decodes and writes while the server reads instead of after it has sorted).
Without merge joins too: once authors are joined on the client, the planner otherwise sorts the part by id to
merge-join the classifications and sorts it again by ``created_at`` (1.9 s vs 1.3 s in EXPLAIN ANALYZE, and no
row before both sorts)."""


class Unavailable(Exception):
    """The ADBC driver is not installed or cannot connect: the caller takes the CSV-based path."""


def _dbapi() -> Any:
    if _DBAPI is None:
        raise Unavailable(f"adbc-driver-postgresql is not installed ({_MISSING})")
    return _DBAPI


def libpq_uri(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection URI: no ``+driver``; password and query options kept."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def typed_columns(columns: Sequence[Column]) -> list[ColumnElement[Any]]:
    """Each column as its own database type (ADBC decodes it); topics as printed jsonb, for :func:`topics_from_jsonb`.

    Printing the jsonb is all the server does for topics: taking the names apart costs less in Arrow.
    """
    out: list[ColumnElement[Any]] = []
    for column in columns:
        if column.kind == "list":
            out.append(cast(column.source, Text))
        elif column.kind == "bool":
            out.append(type_coerce(column.source, Boolean))
        elif column.kind == "str":
            out.append(type_coerce(column.source, String))
        else:
            out.append(column.source)
    return [c.label(f"c{i}") for i, c in enumerate(out)]


SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")  # noqa: S108 - where servers put their socket
"""Where a PostgreSQL server on this machine keeps its Unix socket (Debian's, then upstream's default)."""
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def local_socket_uri(uri: str) -> str | None:
    """``uri`` through the server's Unix socket when it names this machine by a loopback address, else None.

    The export's rows (~450 MB per million mentions) then skip the loopback TCP stack: over the socket the
    1M Parquet export took 0.5-0.9 s less than over TCP in each of four alternating pairs (busy CPU 1-1.8 s
    less).  The caller checks that the socket leads to the same server, and falls back to ``uri``.
    """
    try:
        params = conninfo_to_dict(uri)
    except Exception:  # noqa: BLE001 - not something to rewrite
        return None
    if params.get("host") not in LOOPBACK or params.get("hostaddr") or "," in str(params.get("port", "")):
        return None
    port = str(params.get("port") or 5432)
    found = next((d for d in SOCKET_DIRS if os.path.exists(os.path.join(d, f".s.PGSQL.{port}"))), None)
    return None if found is None else make_conninfo(**{**params, "host": found, "port": port})


def _scalar(cursor: Any, sql: str) -> Any:
    cursor.execute(sql)
    row = cursor.fetchone()
    return None if row is None else row[0]


SERVER_ID = "SELECT pg_postmaster_start_time()::text || ' ' || current_database()"
"""Tells two connections' servers apart (started at the same microsecond, and the same database)."""


@contextmanager
def snapshot_cursors(uri: str, snapshot: str, count: int, server: str | None = None) -> Iterator[list[Any]]:
    """``count`` ADBC cursors, each on its own connection in a read-only transaction on ``snapshot``.

    With ``server`` (:data:`SERVER_ID` as the snapshot's connection reads it), a connection that reaches another
    server is refused.  Raises :class:`Unavailable` when a connection cannot be made or is refused.
    """
    dbapi = _dbapi()
    with ExitStack() as stack:
        cursors = []
        for _ in range(count):
            try:
                connection = dbapi.connect(uri, autocommit=True)  # transactions begun explicitly below
            except Exception as exc:  # noqa: BLE001 - any driver error means: use the other path
                raise Unavailable(f"ADBC cannot connect ({type(exc).__name__}: {exc})") from exc
            stack.callback(connection.close)
            cursor = connection.cursor()
            stack.callback(cursor.close)
            if server is not None and (reached := _scalar(cursor, SERVER_ID)) != server:
                raise Unavailable(f"ADBC reached another server ({reached!r}, not {server!r})")
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # the server's own id
            for setting in SETTINGS:
                cursor.execute(setting)
            cursors.append(cursor)
        yield cursors


@contextmanager
def bulk_cursors(connection: Connection, uri: str, snapshot: str, count: int) -> Iterator[list[Any]]:
    """:func:`snapshot_cursors` through the local Unix socket when there is one to the same server, else ``uri``."""
    local = local_socket_uri(uri)
    if local is not None:
        server = str(connection.scalar(text(SERVER_ID)))
        try:
            with ExitStack() as stack:
                cursors = stack.enter_context(snapshot_cursors(local, snapshot, count, server))
                opened = stack.pop_all()
        except Unavailable as exc:
            log.info("export: not through the local socket (%s); over %s instead", exc, "TCP")
        else:
            with opened:
                yield cursors
            return
    with snapshot_cursors(uri, snapshot, count) as cursors:
        yield cursors


LOOKUPS: tuple[tuple[Any, Any], ...] = (
    (Author, Mention.author_id),
    (Brand, Mention.brand_id),
    (User, Mention.assignee_id),
)
"""Tables whose export columns (author handle, name, followers, verified; brand name; assignee) can be joined
on the client: by key from one copy of the table read in the export's snapshot, instead of an index look-up
per row in the server (authors: ~0.9 s of server CPU per 500,000-row part)."""


DENSE_SPAN = 4
"""A table whose ids span at most this many times its rows gets a position per id (its ids have gaps: authors'
do, as every upsert that finds the row still takes a sequence value); a sparser one is binary-searched."""


@dataclass(frozen=True)
class Lookup:
    """One table read into Arrow, sorted by id, and the export columns it fills by each row's key."""

    key: int
    """Index of the key (the mention's ``author_id``...) among the server's columns."""
    ids: np.ndarray[Any, Any]
    values: dict[int, pa.Array]
    """Export column index -> the table's values for it, in ``ids`` order."""
    positions: np.ndarray[Any, Any] | None = None
    """Row of each id from ``ids[0]`` on (-1: none), when the ids have gaps but are not sparse: see :func:`lookup`."""

    def take(self, keys: pa.Array) -> dict[int, pa.Array]:
        """Each filled column for ``keys``: NULL where the key is NULL or names no row (as a LEFT JOIN)."""
        wanted = keys.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        size = len(self.ids)
        if size and self.ids[-1] - self.ids[0] == size - 1:  # ids without gaps: the position is the id
            at = wanted - self.ids[0]
            found = (at >= 0) & (at < size)
            at[~found] = 0
        elif self.positions is not None:  # a position per id: no search (1M keys: ~0.14 CPU-s searching)
            offset = wanted - self.ids[0]
            inside = (offset >= 0) & (offset < len(self.positions))
            at = self.positions[np.where(inside, offset, 0)].astype(np.int64)
            found = inside & (at >= 0)
            at[~found] = 0
        else:
            at = np.searchsorted(self.ids, wanted)
            at[at == size] = 0
            found = (self.ids[at] == wanted) if size else np.zeros(len(wanted), dtype=bool)
        if keys.null_count:
            found &= keys.is_valid().to_numpy(zero_copy_only=False)
        indices = pa.array(at, mask=~found)
        return {i: pc.take(values, indices) for i, values in self.values.items()}


def lookup(key: int, ids: np.ndarray[Any, Any], values: dict[int, pa.Array]) -> Lookup:
    """A :class:`Lookup` of sorted ``ids``, with a position per id when they have gaps but are not sparse."""
    size = len(ids)
    if not size or ids[-1] - ids[0] == size - 1 or ids[-1] - ids[0] >= DENSE_SPAN * size:
        return Lookup(key, ids, values)
    positions = np.full(int(ids[-1] - ids[0]) + 1, -1, dtype=np.int32)
    positions[ids - ids[0]] = np.arange(size, dtype=np.int32)
    return Lookup(key, ids, values, positions)


@dataclass(frozen=True)
class Plan:
    """What the server selects for a part and how each batch of it becomes an export batch."""

    server: list[Column]
    """The columns the server sends: the export's own, less the looked-up ones, plus keys not exported."""
    schema: pa.Schema
    """Their Arrow types (as exported; keys int64)."""
    lookups: list[tuple[Any, int, list[int]]]
    """(table, key's index in ``server``, export column indexes it fills)."""
    placed: list[int]
    """For each export column: its index in ``server``, or -1 when a lookup fills it."""


def client_join_plan(columns: Sequence[Column], schema: pa.Schema, tables: Sequence[Any]) -> Plan:
    """Split the export columns into what the server selects and what ``tables`` fill on the client."""
    server: list[Column] = []
    fields: list[pa.Field] = []
    placed: list[int] = []
    filled: dict[Any, list[int]] = {}
    for i, column in enumerate(columns):
        table = getattr(getattr(column.source, "expression", None), "table", None)
        owner = next((t for t in tables if t.__table__ is table), None)
        if owner is None:
            placed.append(len(server))
            server.append(column)
            fields.append(schema.field(i))
        else:
            placed.append(-1)
            filled.setdefault(owner, []).append(i)
    lookups = []
    for table, key in LOOKUPS:
        if table not in filled:
            continue
        at = next((j for j, c in enumerate(server) if c.source is key), None)
        if at is None:
            at = len(server)
            server.append(Column(f"_{key.key}", key, "int"))
            fields.append(pa.field(f"_{key.key}", pa.int64()))
        lookups.append((table, at, filled[table]))
    return Plan(server, pa.schema(fields), lookups, placed)


def read_lookup(
    cursor: Any,
    connection: Connection,
    table: Any,
    key: int,
    columns: Sequence[Column],
    indexes: Sequence[int],
    schema: pa.Schema,
) -> Lookup:
    """``table``'s id and the columns at ``indexes`` (every row, this snapshot), sorted by id."""
    wanted = [columns[i] for i in indexes]
    query = select(table.id, *typed_columns(wanted))
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor.execute(sql)
    read = cursor.fetch_arrow_table()
    ids = read.column(0).to_numpy().astype(np.int64, copy=False)
    order = None if np.all(ids[1:] > ids[:-1]) else np.argsort(ids, kind="stable")
    values = {}
    for j, i in enumerate(indexes, 1):
        array = read.column(j).combine_chunks().cast(schema.field(i).type)
        values[i] = array if order is None else array.take(order)
    return lookup(key, ids if order is None else ids[order], values)


def joined(
    batches: Iterator[pa.RecordBatch], plan: Plan, read: Future[list[Lookup]], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """The server's batches with the looked-up columns filled in, as batches of the export ``schema``.

    The lookup tables are read (``read``) while the first parts are: a part that starts before they are ready is
    read whole first (its worker holds it whole anyway) and joined when they are.
    """
    try:
        ahead = None if read.done() else list(batches)
        lookups = read.result()
        for batch in _popped(ahead) if ahead is not None else batches:
            filled: dict[int, pa.Array] = {}
            for lookup in lookups:
                filled.update(lookup.take(batch.column(lookup.key)))
            arrays = [filled[i] if at < 0 else batch.column(at) for i, at in enumerate(plan.placed)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:  # now: a part stopped early cancels its COPY
            close()


def _popped(items: list[T]) -> Iterator[T]:
    """``items`` in order, each let go of as it is handed on."""
    items.reverse()
    while items:
        yield items.pop()


def estimated_rows(connection: Connection, sql: str) -> float:
    """The planner's row estimate for ``sql``."""
    plan = export_pg.driver(connection).execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0]
    return float(plan[0]["Plan"]["Plan Rows"])


def client_tables(connection: Connection, rows: float) -> list[Any]:
    """The lookup tables worth reading whole for an export of about ``rows`` rows: at most twice as many rows.

    A table never analysed (``reltuples`` < 0) counts as small.
    """
    names = [table.__tablename__ for table, _ in LOOKUPS]
    sizes = dict(
        connection.execute(
            text(
                "SELECT t, c.reltuples FROM unnest(CAST(:names AS text[])) t"
                " LEFT JOIN pg_class c ON c.oid = to_regclass(t)"
            ),
            {"names": names},
        )
        .tuples()
        .all()
    )
    return [table for table, _ in LOOKUPS if float(sizes.get(table.__tablename__) or 0) <= 2 * rows]


def typed_batches(cursor: Any, sql: str, columns: Sequence[Column], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The query's rows as batches of ``schema`` (integers widened, topics split), streamed."""
    cursor.execute(sql)
    reader = cursor.fetch_record_batch()
    finished = False
    try:
        for batch in reader:
            arrays = [
                topics_from_jsonb(array) if column.kind == "list" else array.cast(field.type)
                for array, column, field in zip(batch.columns, columns, schema, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        finished = True
    finally:
        if not finished:  # stopped early: end the COPY server-side rather than read the rest
            with contextlib.suppress(Exception):
                cursor.adbc_cancel()
        reader.close()


TURN_ROWS = 20_000
"""Rows per part of a big export (see :mod:`console.services.export_turns`), at most 50 parts (two histogram
buckets each).  1M PostgreSQL Parquet on 2 cores: 20,000-row parts 5.48-6.02 s with peak 424 MB; 25,000
5.61-6.41 s / 439-470 MB; 50,000 5.72-7.09 s / 548-574 MB (each part held whole while it waits its turn)."""
WORKERS = 2
"""Connections reading parts at once.  Three on two cores: 6.29-6.47 s and peaks of 532-543 MB."""


def parquet_batches(
    session: Session, filters: MentionFilters, columns: Sequence[Column], schema: pa.Schema, path: Path
) -> Generator[pa.RecordBatch, None, None]:
    """Typed batches in export order, read by ADBC: many parts read in turns on two connections on one snapshot.

    Raises :class:`Unavailable` (before yielding anything) when ADBC cannot be used.  ``path`` is unused
    (nothing is spooled); it is kept for the caller's uniform call.
    """
    return _in_turns(session, filters, columns, schema, lambda batch: (batch,))


def csv_chunks(
    session: Session, filters: MentionFilters, columns: Sequence[Column], schema: pa.Schema, chunk_rows: int
) -> Generator[tuple[memoryview, int], None, None]:
    """(CSV lines, rows) of at most ``chunk_rows`` rows, in export order, rendered in Arrow by the reading threads.

    Raises :class:`Unavailable` (before yielding anything) when ADBC cannot be used.
    """

    def render(batch: pa.RecordBatch) -> Iterator[tuple[memoryview, int]]:
        for start in range(0, batch.num_rows, chunk_rows):
            piece = batch.slice(start, chunk_rows)
            yield csv_lines(piece, columns), piece.num_rows

    return _in_turns(session, filters, columns, schema, render)


def _in_turns(
    session: Session,
    filters: MentionFilters,
    columns: Sequence[Column],
    schema: pa.Schema,
    render: Callable[[pa.RecordBatch], Iterable[T]],
) -> Generator[T, None, None]:
    _dbapi()
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    with export_pg.snapshot_connections(engine, 1) as (first,):
        snapshot = str(first.scalar(text("SELECT pg_export_snapshot()")))
        parts = export_pg.estimated_split(first, filters, part_rows=TURN_ROWS) or export_pg.split(first, filters)
        tables = []
        if len(parts) > 1:  # a big export: authors (and brands, users) joined here if not much bigger than it
            tables = client_tables(first, estimated_rows(first, export_pg.literal_sql(first, [Mention.id], filters)))
        plan = client_join_plan(columns, schema, tables)
        workers = min(WORKERS, len(parts))
        lookup_cursors = 1 if plan.lookups else 0  # its own connection: read while the parts' queries start
        with (
            bulk_cursors(first, libpq_uri(engine.url), snapshot, workers + lookup_cursors) as cursors,
            ThreadPoolExecutor(1, thread_name_prefix="export-lookups") as pool,
        ):
            read = pool.submit(
                lambda: [
                    read_lookup(cursors[-1], first, table, key, columns, filled, schema)
                    for table, key, filled in plan.lookups
                ]
            )
            sqls = export_pg.literal_sqls(first, typed_columns(plan.server), parts)  # while the lookups are read

            def rendered(cursor: Any, sql: str) -> Generator[T, None, None]:
                server = typed_batches(cursor, sql, plan.server, plan.schema)
                batches = joined(server, plan, read, schema) if plan.lookups else server
                try:
                    for batch in batches:
                        yield from render(batch)
                finally:
                    batches.close()  # now: a part stopped early cancels its COPY

            yield from export_turns.in_turns(sqls, cursors[:workers], rendered)
