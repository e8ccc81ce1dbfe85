"""PostgreSQL exports on two connections that share one snapshot, each ``COPY``-ing half the rows.

The export query is CPU-bound in the server (joins, sort, rendering every cell), and one
query runs on one core.  So a big export is split at the median ``created_at`` into two
``created_at`` ranges (``since`` inclusive, ``until`` exclusive: every row is in exactly
one part, and the parts in order are the rows in order).  Each part is a ``COPY (SELECT
...) TO STDOUT`` on its own connection; both connections are REPEATABLE READ, the second
importing the first's snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``), so
together they read one consistent state of the store, as a single query would.

Progress is reported from the calling thread only (Streamlit's and rich's callbacks are
not thread-safe): the other part's thread just counts rows.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc  # noqa: F401 - pa.ipc
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from console.services.export_columns import csv_read_types, finish
from console.services.mention_query import Column, MentionFilters, base_query, where
from storage.models import Mention

PARALLEL_MIN_ROWS = 50_000
"""Smaller exports run as one query in the caller's session: two connections are not worth it."""
PARTS = 2
COPY_ROWS = 1_000
CSV_BLOCK_BYTES = 1 << 20
"""Arrow's CSV reader parses this much text per batch: its buffers live outside Arrow's pool, and bigger
blocks raised the process's peak memory (4 MiB: +70 MB over 1 MiB, measured at 100,000 rows)."""
"""Rows joined into one bytes object between Python and Arrow's reader."""
SETTINGS = (
    "SET LOCAL max_parallel_workers_per_gather = 0",  # the parts are the parallelism; workers would oversubscribe
    "SET LOCAL work_mem = '64MB'",  # sort each part in memory rather than in temporary files
    "SET LOCAL random_page_cost = 1.1",
)

ProgressFn = Callable[[int], None] | None


def copy_sql(session_or_engine: Session | Engine, columns: Sequence[Any], filters: MentionFilters) -> tuple[str, Any]:
    """``COPY (the export query) TO STDOUT (FORMAT csv)`` and its parameters, bound client-side by psycopg."""
    query = base_query([Column(f"c{i}", c, "str") for i, c in enumerate(columns)], filters)
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    return f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)", compiled.construct_params()


@contextmanager
def snapshot_connections(engine: Engine, count: int) -> Iterator[list[Connection]]:
    """``count`` read-only REPEATABLE READ connections that all see the first one's snapshot."""
    with ExitStack() as stack:
        connections: list[Connection] = []
        snapshot = ""
        for i in range(count):
            connection = stack.enter_context(engine.connect().execution_options(isolation_level="REPEATABLE READ"))
            stack.enter_context(connection.begin())  # rolled back at the end: the export writes nothing
            if i == 0:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                snapshot = str(connection.scalar(text("SELECT pg_export_snapshot()")))
            else:
                connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # noqa: S608 - the server's id
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            for setting in SETTINGS:
                connection.exec_driver_sql(setting)
            connections.append(connection)
        yield connections


def split(connection: Connection, filters: MentionFilters, parts: int = PARTS) -> list[MentionFilters]:
    """The filters cut at ``created_at`` quantiles of the matching rows; one part when the export is small."""
    total = int(connection.scalar(select(func.count()).select_from(Mention).where(*where(filters))) or 0)
    if total < max(PARALLEL_MIN_ROWS, parts):
        return [filters]
    cuts: list[datetime] = []
    for k in range(1, parts):
        cut = connection.scalar(
            select(Mention.created_at)
            .where(*where(filters))
            .order_by(Mention.created_at)
            .offset(total * k // parts)
            .limit(1)
        )
        if cut is not None and (not cuts or cut > cuts[-1]) and (filters.since is None or cut > filters.since):
            cuts.append(cut)
    bounds: list[datetime | None] = [filters.since, *cuts, filters.until]
    return [dataclasses.replace(filters, since=lo, until=hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]


def literal_sql(connection: Connection, cells: Sequence[Any], filters: MentionFilters) -> str:
    """The export query with its parameters quoted into it by psycopg's client-side binding (as ``copy()`` does)."""
    query = base_query([Column(f"c{i}", c, "str") for i, c in enumerate(cells)], filters)
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    return psycopg.ClientCursor(driver(connection)).mogrify(compiled.string, compiled.construct_params())


STAND_IN_SINCE = datetime(1901, 2, 3, 4, 5, 6, 789_001, tzinfo=UTC)
STAND_IN_UNTIL = datetime(1901, 2, 3, 4, 5, 6, 789_002, tzinfo=UTC)
"""Stand-ins for a part's bounds in :func:`literal_sqls`' templates, told apart from every other value by value."""


def literal_sqls(connection: Connection, cells: Sequence[Any], parts: Sequence[MentionFilters]) -> list[str]:
    """:func:`literal_sql` of each part, compiling the query once rather than once a part.

    The parts of one export differ only in their ``created_at`` bounds: each is quoted into a template compiled
    with stand-in bounds (one template per shape: a first or last part may have no bound).  Compiling the
    export query took ~4 ms, 0.2 s for 50 parts before the first row could be read.
    """
    cursor = psycopg.ClientCursor(driver(connection))
    templates: dict[tuple[bool, bool], tuple[str, dict[str, Any], list[str], list[str]]] = {}
    out = []
    for part in parts:
        shape = (part.since is None, part.until is None)
        if shape not in templates:
            stand_in = dataclasses.replace(
                part, since=part.since and STAND_IN_SINCE, until=part.until and STAND_IN_UNTIL
            )
            query = base_query([Column(f"c{i}", c, "str") for i, c in enumerate(cells)], stand_in)
            compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
            params = compiled.construct_params()
            since = [k for k, v in params.items() if v == STAND_IN_SINCE]
            until = [k for k, v in params.items() if v == STAND_IN_UNTIL]
            templates[shape] = (compiled.string, params, since, until)
        sql, params, since, until = templates[shape]
        bounds = {**dict.fromkeys(since, part.since), **dict.fromkeys(until, part.until)}
        out.append(cursor.mogrify(sql, {**params, **bounds}))
    return out


def estimated_split(
    connection: Connection, filters: MentionFilters, parts: int = PARTS, part_rows: int | None = None
) -> list[MentionFilters] | None:
    """The filters cut at ``created_at`` quantiles taken from the planner's statistics, without reading a row.

    :func:`split` counts the matching rows and seeks to the median: ~1.6 s before the
    export starts for a million mentions.  A cut only balances the parts (any cut gives every row once, in
    order), so the planner's row estimate and ``created_at`` histogram do here.  None when there is no
    histogram (never analysed) or too little of it in the filters' range: the caller counts instead.
    With ``part_rows``, cut into about that many rows a part (at least ``parts`` parts).
    """
    sql = literal_sql(connection, [Mention.id], filters)
    plan = driver(connection).execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0]
    if plan[0]["Plan"]["Plan Rows"] < max(PARALLEL_MIN_ROWS, parts):
        return [filters]
    bounds: list[datetime] | None = connection.execute(HISTOGRAM, {"table": Mention.__tablename__}).scalar()
    inside = [
        b
        for b in bounds or []
        if (filters.since is None or b > filters.since) and (filters.until is None or b < filters.until)
    ]
    if len(inside) < 2 * parts:
        return None
    if part_rows:  # as many parts as make ``part_rows`` each, while every part keeps two histogram buckets
        parts = max(parts, min(int(plan[0]["Plan"]["Plan Rows"]) // part_rows, len(inside) // 2))
    cuts = [filters.since, *(inside[len(inside) * k // parts] for k in range(1, parts)), filters.until]
    return [dataclasses.replace(filters, since=lo, until=hi) for lo, hi in zip(cuts, cuts[1:], strict=False)]


HISTOGRAM = text(
    "SELECT s.histogram_bounds::text::timestamptz[] FROM pg_stats s"
    " JOIN pg_namespace n ON n.nspname = s.schemaname"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename"
    " WHERE c.oid = to_regclass(:table) AND s.attname = 'created_at'"
)


class RowCounter:
    """Rows done by a background part, read (and reset) by the reporting thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.unreported = 0

    def add(self, rows: int) -> None:
        """Count rows done."""
        with self.lock:
            self.unreported += rows

    def take(self) -> int:
        """Rows done since the last call."""
        with self.lock:
            rows, self.unreported = self.unreported, 0
            return rows


class Background:
    """Runs one part in a thread; keeps its result or its exception for :meth:`wait`."""

    def __init__(self, work: Callable[[Callable[[int], None]], int], cancel: Callable[[], None]) -> None:
        self.counter = RowCounter()
        self.cancel = cancel
        self.rows = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), name="export-part", daemon=True)
        self.thread.start()

    def _run(self, work: Callable[[Callable[[int], None]], int]) -> None:
        try:
            self.rows = work(self.counter.add)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by wait()
            self.error = exc

    def wait(self, progress: ProgressFn) -> int:
        """Join the thread, reporting its rows as they come; re-raise its error here."""
        while self.thread.is_alive():
            self.thread.join(0.2)
            if progress and (done := self.counter.take()):
                progress(done)
        if progress and (done := self.counter.take()):
            progress(done)
        if self.error is not None:
            raise self.error
        return self.rows

    def stop(self) -> None:
        """Cancel the part's query (the caller failed) and wait for the thread to end."""
        if self.thread.is_alive():
            self.cancel()
            self.thread.join()


def driver(connection: Connection) -> Any:
    """The psycopg connection under a SQLAlchemy connection."""
    return connection.connection.driver_connection


def cancel(connection: Connection) -> Callable[[], None]:
    """A function that cancels the connection's running query (safe from another thread)."""
    return driver(connection).cancel_safe  # type: ignore[no-any-return]


def copy_rows(
    connection: Connection, sql: str, params: Any, block_rows: int = COPY_ROWS
) -> Generator[list[Any], None, None]:
    """The COPY's rows in lists of up to ``block_rows`` (PostgreSQL sends one data message per row)."""
    with driver(connection).cursor() as cursor, cursor.copy(sql, params) as copy:
        finished = False
        try:
            rows = iter(copy)
            while block := list(islice(rows, block_rows)):
                yield block
            finished = True
        finally:
            if not finished:  # stopped early: end the COPY server-side, or leaving it waits for every row
                driver(connection).cancel_safe()


def copy_csv(
    connection: Connection, sql: str, params: Any, file: BinaryIO, block_rows: int, report: Callable[[int], None]
) -> int:
    """Write a ``COPY ... (FORMAT csv)`` into ``file`` as it comes; ``report`` gets the rows per block."""
    rows = 0
    for block in copy_rows(connection, sql, params, block_rows):
        file.write(b"".join(block))
        rows += len(block)
        report(len(block))
    return rows


class CopyStream(io.RawIOBase):
    """A ``COPY ... TO STDOUT`` as a readable binary stream, for Arrow's CSV reader."""

    def __init__(self, blocks: Iterator[list[Any]]) -> None:
        self.blocks = blocks
        self.pending = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        """Always: it is a read stream."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the copy's rows (joined a block at a time, to keep Python calls few); 0 at the end."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self.pending:
                block = next(self.blocks, None)
                if block is None:
                    break
                self.pending = memoryview(b"".join(block))
            size = min(len(view) - filled, len(self.pending))
            view[filled : filled + size] = self.pending[:size]
            self.pending = self.pending[size:]
            filled += size
        self.bytes_read += filled
        return filled


def arrow_batches(
    connection: Connection, sql: str, params: Any, columns: Sequence[Column], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """A ``COPY`` of :func:`~console.services.export_columns.arrow_columns` parsed by Arrow in C++, typed."""
    read = pacsv.ReadOptions(column_names=[c.name for c in columns], block_size=CSV_BLOCK_BYTES, use_threads=False)
    convert = pacsv.ConvertOptions(
        column_types=csv_read_types(columns),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
        true_values=["t"],
        false_values=["f"],
    )
    blocks = copy_rows(connection, sql, params)
    stream = CopyStream(blocks)
    try:
        try:
            reader = pacsv.open_csv(stream, read_options=read, convert_options=convert)
        except pa.ArrowInvalid:
            if stream.bytes_read == 0:  # no rows: Arrow's reader refuses an empty file
                return
            raise
        for batch in reader:
            arrays = [
                finish(array, column, field.type) if column.kind in ("time", "list") else array
                for array, column, field in zip(batch.columns, columns, schema, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    finally:
        blocks.close()  # now, not at garbage collection: cancels a COPY left unfinished


def spool(batches: Iterator[pa.RecordBatch], path: Path, schema: pa.Schema, report: Callable[[int], None]) -> int:
    """Batches into an Arrow IPC file (uncompressed: written and mapped back at memory speed)."""
    rows = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
        for batch in batches:
            out.write_batch(batch)
            rows += batch.num_rows
            report(batch.num_rows)
    return rows


def spooled(path: Path) -> Iterator[pa.RecordBatch]:
    """The batches :func:`spool` wrote, memory-mapped."""
    with pa.OSFile(str(path), "rb") as source:  # read, not mapped: mapped pages would count as resident
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


Work = Callable[[Callable[[int], None]], int]
"""One part's export: takes a row-count reporter, returns the rows written."""


def run_parts(first: Work, others: Sequence[tuple[Work, Callable[[], None]]], progress: ProgressFn) -> int:
    """Run ``first`` in this thread and each of ``others`` (work, cancel) in its own; all rows, or the first error."""
    jobs = [Background(work, stop) for work, stop in others]
    try:
        rows = first(progress or (lambda rows: None))
        return rows + sum(job.wait(progress) for job in jobs)
    except BaseException:
        for job in jobs:
            job.stop()
        raise


def append(file: BinaryIO, part: Path) -> None:
    """Append a part file, in the kernel where it can (``copy_file_range``), else by reads and writes."""
    file.flush()
    with part.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        try:
            while size > 0:
                copied = os.copy_file_range(source.fileno(), file.fileno(), size)
                if copied == 0:
                    break
                size -= copied
        except (AttributeError, OSError):  # not Linux, or a file system without it: plain copy of the rest
            shutil.copyfileobj(source, file, 1 << 20)


@contextmanager
def part_files(path: Path, count: int) -> Iterator[list[Path]]:
    """Temporary files beside ``path`` for parts after the first, removed at the end whatever happens."""
    paths = [path.with_name(f"{path.name}.part{i}") for i in range(1, count)]
    try:
        yield paths
    finally:
        for part in paths:
            part.unlink(missing_ok=True)


def write_csv(
    session: Session,
    filters: MentionFilters,
    cells: Sequence[Any],
    header: bytes,
    path: Path,
    block_rows: int,
    progress: ProgressFn,
) -> int:
    """CSV by ``COPY``: the header, then each part's rows straight from the server to the file, in order."""
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    with snapshot_connections(engine, PARTS) as connections:
        parts = estimated_split(connections[0], filters) or split(connections[0], filters)
        with part_files(path, len(parts)) as rest, path.open("wb") as file:
            file.write(header)

            def part(i: int, out: BinaryIO) -> Work:
                return partial(copy_csv, connections[i], *copy_sql(engine, cells, parts[i]), out, block_rows)

            with ExitStack() as stack:
                outs = [stack.enter_context(p.open("wb")) for p in rest]
                others = [(part(i, out), cancel(connections[i])) for i, out in enumerate(outs, 1)]
                rows = run_parts(part(0, file), others, progress)
            for part_path in rest:
                append(file, part_path)
    return rows


def parquet_batches(
    session: Session,
    filters: MentionFilters,
    cells: Sequence[Any],
    columns: Sequence[Column],
    schema: pa.Schema,
    path: Path,
) -> Generator[pa.RecordBatch, None, None]:
    """Typed batches in export order: the first part as it comes while later parts spool beside ``path``."""
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    with snapshot_connections(engine, PARTS) as connections:
        parts = split(connections[0], filters)

        def batches(i: int) -> Iterator[pa.RecordBatch]:
            return arrow_batches(connections[i], *copy_sql(engine, cells, parts[i]), columns, schema)

        with part_files(path, len(parts)) as rest:
            jobs = [
                Background(partial(spool, batches(i), spool_path, schema), cancel(connections[i]))
                for i, spool_path in enumerate(rest, 1)
            ]
            try:
                yield from batches(0)
                for job, spool_path in zip(jobs, rest, strict=True):
                    job.wait(None)
                    yield from spooled(spool_path)
            finally:
                for job in jobs:
                    job.stop()
