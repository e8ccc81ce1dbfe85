"""SQLite exports through Apache Arrow's ADBC SQLite driver: rows decoded into Arrow in C, two parts at once.

Python's ``sqlite3`` makes a Python object of every cell, and a million mentions have 49 million:
that, not SQLite, was most of a big export's time.  The ADBC driver steps through the query and
appends each value to Arrow builders in C, so no cell becomes a Python object; what is left is
converted and written column by column in Arrow's C++ (Parquet) or rendered in Arrow and written as
one buffer per batch (CSV, :func:`csv_lines`).

A big export is cut into ~20,000-row ``created_at`` ranges read in turns on two connections, each in
its own thread (:func:`parquet_batches`, :func:`csv_chunks`): the driver releases the GIL while it steps,
so both cores work.  Both connections read one state of the store: a fence connection holds SQLite's
write lock (``BEGIN IMMEDIATE``; writers wait on their busy timeout, a few milliseconds) while each begins
its read transaction, so no commit can fall between them.

The driver infers each column's Arrow type from the first batch, and a column that is NULL all
through it would become int64 and fail at the first text value.  So every query starts with one
typed sentinel row (``UNION ALL``; SQLite runs the branches in order and keeps the subquery's
order), which is dropped from the first batch.

Only a file store whose session holds no uncommitted writes takes this path (ADBC's own connections
cannot see them); the caller falls back to ``sqlite3`` otherwise, or when the driver is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, func, literal, select, union_all
from sqlalchemy.orm import Session

from console.services import export_adbc, export_csv, export_pg, export_turns
from console.services.export_columns import MINIFIED_SEPARATOR, arrow_columns, finish, topics_from_jsonb
from console.services.mention_query import Column, MentionFilters, base_query, where
from storage.db import SQLITE_BUSY_TIMEOUT_MS
from storage.models import Mention

_MISSING = ""
try:
    import adbc_driver_sqlite.dbapi

    _DBAPI: Any = adbc_driver_sqlite.dbapi
except ImportError as exc:  # the sqlite3 path is used instead
    _DBAPI, _MISSING = None, str(exc)

T = TypeVar("T")
WORKERS = 2

SENTINEL: dict[str, Any] = {"int": 0, "bool": 0, "float": 0.5}
"""The sentinel row's value by column kind; text for every other kind (times and topics are read as text)."""


def database_file(session: Session) -> Path | None:
    """The store's file when ADBC can read what the session sees: a file, no uncommitted writes, driver installed."""
    if _DBAPI is None:
        return None
    connection = session.connection()
    name = connection.engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    if getattr(connection.connection.driver_connection, "in_transaction", True):  # writes only it can see
        return None
    path = Path(name)
    return path if path.is_file() else None


def typed_sql(session: Session, rendered: Sequence[Column], filters: MentionFilters | None, table: Any = None) -> str:
    """The export query (or ``table``'s rows) behind one typed sentinel row, parameters quoted in by SQLAlchemy."""
    sentinel = select(*[literal(SENTINEL.get(c.kind, "")).label(c.name) for c in rendered])
    rows = base_query(rendered, filters) if filters is not None else select(*[c.source for c in rendered])
    query = union_all(sentinel, select((rows.select_from(table) if table is not None else rows).subquery()))
    dialect = session.get_bind().dialect
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def typed_sqls(session: Session, rendered: Sequence[Column], parts: Sequence[MentionFilters]) -> list[str]:
    """:func:`typed_sql` of each part, compiling the query once per shape rather than once a part.

    The parts differ only in their ``created_at`` bounds, so each is the template compiled with stand-in bounds
    with the stand-ins' literals replaced.  Compiling took ~7 ms a part: 0.34 s of one core for 50 parts of a
    million mentions, before either connection read a row.
    """
    dialect = session.get_bind().dialect

    def quoted(value: datetime) -> str:
        return str(
            literal(value, Mention.created_at.type).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )

    stand_ins = {"since": export_pg.STAND_IN_SINCE, "until": export_pg.STAND_IN_UNTIL}
    templates: dict[tuple[bool, bool], str] = {}
    out = []
    for part in parts:
        shape = (part.since is None, part.until is None)
        if shape not in templates:
            stand_in = dataclasses.replace(part, **{k: v for k, v in stand_ins.items() if getattr(part, k)})
            templates[shape] = typed_sql(session, rendered, stand_in)
        sql = templates[shape]
        for name, value in stand_ins.items():
            bound = getattr(part, name)
            if bound is not None:
                if sql.count(stand_in_text := quoted(value)) != 1:
                    raise RuntimeError(f"the export query quotes its {name} bound {sql.count(stand_in_text)} times")
                sql = sql.replace(stand_in_text, quoted(bound))
        out.append(sql)
    return out


@contextmanager
def snapshot_cursors(path: Path, count: int, batch_rows: int) -> Iterator[list[Any]]:
    """``count`` ADBC cursors, each in a read transaction begun while no writer could commit.

    ``batch_rows``: rows per Arrow batch (the driver's default, 1,024, means more Python calls per row).
    """
    with ExitStack() as stack:
        fence = None
        if count > 1:
            fence = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            stack.callback(fence.close)
            fence.execute("BEGIN IMMEDIATE")  # holds the write lock until every part has begun reading
        cursors = []
        for _ in range(count):
            connection = _DBAPI.connect(str(path), autocommit=True)  # transactions begun explicitly below
            stack.callback(connection.close)
            cursor = connection.cursor()
            stack.callback(cursor.close)
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.fetchall()
            cursor.execute("BEGIN")
            cursor.execute("SELECT count(*) FROM sqlite_master")  # the read transaction starts at a read
            cursor.fetchall()
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            cursors.append(cursor)
        if fence is not None:
            fence.execute("ROLLBACK")
        yield cursors


def raw_batches(cursor: Any, sql: str) -> Generator[pa.RecordBatch, None, None]:
    """The query's batches as the driver types them, the sentinel row dropped."""
    cursor.execute(sql)
    reader = cursor.fetch_record_batch()
    try:
        first = True
        for batch in reader:
            if first:
                batch, first = batch.slice(1), False
            if batch.num_rows:
                yield batch
    finally:
        reader.close()


def typed(batch: pa.RecordBatch, columns: Sequence[Column], schema: pa.Schema) -> pa.RecordBatch:
    """A driver batch of :func:`~console.services.export_columns.arrow_columns` cells as a batch of ``schema``."""
    arrays = [
        _as_type(array, column, field.type) for array, column, field in zip(batch.columns, columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _as_type(array: pa.Array, column: Column, target: pa.DataType) -> pa.Array:
    if column.kind == "json-list":  # minified JSON text (:func:`server_cells`)
        return topics_from_jsonb(array.cast(pa.string()), MINIFIED_SEPARATOR)
    if column.kind in ("time", "list"):
        return finish(array.cast(pa.string()), column, target)
    if column.kind == "bool":
        return array.cast(pa.bool_())
    return array.cast(target)


def server_cells(session: Session, columns: Sequence[Column]) -> list[Column]:
    """The columns as SQLite sends them for :func:`typed`: topics as ``json()``'s minified text, of kind ``json-list``.

    ``json()`` prints what the writer stored canonically, so the names are taken apart in Arrow
    (:func:`~console.services.export_columns.topics_from_jsonb`) instead of by a ``json_each`` subquery per row.
    """
    cells = arrow_columns(session, columns)
    return [
        Column(c.name, func.json(c.source).label(f"c{i}"), "json-list")
        if c.kind == "list"
        else Column(c.name, cell, c.kind)
        for i, (c, cell) in enumerate(zip(columns, cells, strict=True))
    ]


def read_lookup(
    cursor: Any,
    session: Session,
    table: Any,
    key: int,
    columns: Sequence[Column],
    indexes: Sequence[int],
    schema: pa.Schema,
) -> export_adbc.Lookup:
    """``table``'s id and the export columns at ``indexes`` (every row, the cursor's snapshot), sorted by id."""
    wanted = [Column("id", table.id, "int"), *server_cells(session, [columns[i] for i in indexes])]
    batches = list(raw_batches(cursor, typed_sql(session, wanted, None, table)))
    if not batches:  # an empty table: every key finds nothing
        return export_adbc.lookup(key, np.zeros(0, np.int64), {i: pa.array([], schema.field(i).type) for i in indexes})
    read = pa.Table.from_batches(batches)
    ids = read.column(0).to_numpy().astype(np.int64, copy=False)
    order = None if np.all(ids[1:] > ids[:-1]) else np.argsort(ids, kind="stable")
    values = {}
    for j, i in enumerate(indexes, 1):
        array = _as_type(read.column(j).combine_chunks(), wanted[j], schema.field(i).type)
        values[i] = array if order is None else array.take(order)
    return export_adbc.lookup(key, ids if order is None else ids[order], values)


def cancel_of(cursor: Any) -> Callable[[], None]:
    """Interrupt the cursor's query from another thread (a driver that cannot just lets it finish)."""

    def cancel() -> None:
        with contextlib.suppress(Exception):
            cursor.adbc_cancel()

    return cancel


TURN_ROWS = 20_000
"""Rows per part of a big Parquet export, read in turns by two connections (:mod:`console.services.export_turns`)."""


def stepped_split(connection: Connection, filters: MentionFilters, part_rows: int) -> list[MentionFilters]:
    """The filters cut every ``part_rows`` matching rows of ``created_at`` order, each cut found from the last.

    SQLite keeps no histogram to cut at (PostgreSQL's :func:`~console.services.export_pg.estimated_split`), and
    seeking each cut from the start (:func:`~console.services.export_pg.split`) walks the index again for every
    part.  Each step here walks ``part_rows`` entries of the ``(created_at, id)`` index from the previous cut, so
    all the cuts together walk it once.  More than ``part_rows`` rows at one instant stay in one part.
    """
    cuts: list[datetime] = []
    since = filters.since
    while True:
        step = dataclasses.replace(filters, since=since)
        order = select(Mention.created_at).where(*where(step)).order_by(Mention.created_at)
        cut = connection.scalar(order.offset(part_rows).limit(1))
        if cut is not None and since is not None and cut <= since:  # a part's worth of ties: cut after them
            cut = connection.scalar(order.where(Mention.created_at > since).limit(1))
        if cut is None:
            break
        cuts.append(cut)
        since = cut
    bounds: list[datetime | None] = [filters.since, *cuts, filters.until]
    return [dataclasses.replace(filters, since=lo, until=hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]


def parquet_batches(
    session: Session,
    path: Path,
    filters: MentionFilters,
    columns: Sequence[Column],
    schema: pa.Schema,
    batch_rows: int,
) -> Generator[pa.RecordBatch, None, None]:
    """Typed batches in export order: ~``TURN_ROWS``-row parts read in turns by two connections on one snapshot.

    Two halves would leave the second to be written alone at the end while one core idles (1.4-2.0 CPU-s of a
    1M Parquet export); small parts keep both cores busy to the last part.  A big export reads the authors,
    brands and assignees once, on a third connection in the same snapshot, and joins them in Arrow by each
    row's key (:func:`console.services.export_adbc.joined`): SQLite then drops those joins, which with the
    topics' ``json_each`` took ~30 % of its time stepping the query.
    """
    return _in_turns(session, path, filters, columns, schema, batch_rows, lambda batch: (batch,))


def csv_chunks(
    session: Session,
    path: Path,
    filters: MentionFilters,
    columns: Sequence[Column],
    schema: pa.Schema,
    batch_rows: int,
) -> Generator[tuple[memoryview, int], None, None]:
    """(CSV lines, rows) in export order: :func:`parquet_batches`' batches rendered by the reading threads."""

    def render(batch: pa.RecordBatch) -> Iterator[tuple[memoryview, int]]:
        yield export_csv.csv_lines(batch, columns), batch.num_rows

    return _in_turns(session, path, filters, columns, schema, batch_rows, render)


def _in_turns(
    session: Session,
    path: Path,
    filters: MentionFilters,
    columns: Sequence[Column],
    schema: pa.Schema,
    batch_rows: int,
    render: Callable[[pa.RecordBatch], Iterable[T]],
) -> Generator[T, None, None]:
    parts = stepped_split(session.connection(), filters, TURN_ROWS)
    tables = [table for table, _ in export_adbc.LOOKUPS] if len(parts) > 1 else []
    plan = export_adbc.client_join_plan(columns, schema, tables)
    server = server_cells(session, plan.server)
    sqls = typed_sqls(session, server, parts)
    workers = min(WORKERS, len(parts))
    with (
        snapshot_cursors(path, workers + (1 if plan.lookups else 0), batch_rows) as cursors,
        ThreadPoolExecutor(1, thread_name_prefix="export-lookups") as pool,
    ):
        read = pool.submit(
            lambda: [
                read_lookup(cursors[-1], session, table, key, columns, filled, schema)
                for table, key, filled in plan.lookups
            ]
        )

        def part(cursor: Any, sql: str) -> Generator[T, None, None]:
            batches = (typed(batch, server, plan.schema) for batch in raw_batches(cursor, sql))
            for batch in export_adbc.joined(batches, plan, read, schema) if plan.lookups else batches:
                yield from render(batch)

        yield from export_turns.in_turns(sqls, cursors[:workers], part)
