"""PostgreSQL Parquet exports through Apache Arrow's ADBC driver: binary ``COPY`` decoded into Arrow in C.

The CSV-based path (:func:`console.services.export_pg.parquet_batches`) has the server render
every time and number as text and Arrow parse it back.  The ADBC PostgreSQL driver runs the
query as ``COPY (...) TO STDOUT (FORMAT binary)`` and decodes the binary rows into Arrow record
batches in C (timestamptz as ``timestamp[us, tz=UTC]``, booleans, integers, doubles, text), so
neither side formats or parses text.  Batches stream: memory stays flat.

The parts, their split at the median ``created_at`` and the shared snapshot are those of
:mod:`console.services.export_pg`: a psycopg connection opens the REPEATABLE READ snapshot and
splits the filters, and each part runs on its own ADBC connection that imports that snapshot.

Filter values are rendered into the SQL by psycopg's client-side binding (``mogrify``, the
same quoting psycopg's ``copy()`` applies in the CSV path), not bound as ADBC parameters: with
bound parameters the driver runs a prepared statement and materialises the whole result in one
batch instead of streaming a ``COPY`` (measured: 3 GB resident for a million mentions).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import URL, Boolean, ColumnElement, Engine, String, Text, cast, text, type_coerce
from sqlalchemy.orm import Session

from console.services import export_pg, export_sqlite
from console.services.export_columns import topics_from_jsonb
from console.services.mention_query import Column, MentionFilters

log = logging.getLogger(__name__)

_MISSING = ""
try:  # imported with the module (~0.2 s), not in the first export's time
    import adbc_driver_postgresql.dbapi

    _DBAPI: Any = adbc_driver_postgresql.dbapi
except ImportError as exc:  # the CSV-based path is used instead
    _DBAPI, _MISSING = None, str(exc)

SETTINGS = (*export_pg.SETTINGS, "SET LOCAL jit = off", "SET LOCAL enable_hashjoin = off")
"""The CSV path's settings, and two more.  JIT: server CPU per 500,000-row part 3.95 s on, 3.75 s off.
Without hash joins each part walks ``created_at``'s index and looks its authors, brands, assignees and current
classification up by key (memoized for the few brands and users), so rows stream out already in order: no hash
of half the mentions and no sort of every wide row before the first row (server CPU per 500,000-row part
4.1 -> 3.7 s, and the client decodes and writes while the server reads instead of after it has sorted)."""


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


@contextmanager
def snapshot_cursors(uri: str, snapshot: str, count: int) -> Iterator[list[Any]]:
    """``count`` ADBC cursors, each on its own connection in a read-only transaction on ``snapshot``.

    Raises :class:`Unavailable` when a connection cannot be made.
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
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # the server's own id
            for setting in SETTINGS:
                cursor.execute(setting)
            cursors.append(cursor)
        yield cursors


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


def parquet_batches(session: Session, filters: MentionFilters, columns: Sequence[Column], schema: pa.Schema,
                    path: Path) -> Generator[pa.RecordBatch, None, None]:  # fmt: skip
    """Typed batches in export order, read by ADBC: the first part through a reader thread while later parts spool.

    Raises :class:`Unavailable` (before yielding anything) when ADBC cannot be used.
    """
    _dbapi()
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    cells = typed_columns(columns)
    with export_pg.snapshot_connections(engine, 1) as (first,):
        snapshot = str(first.scalar(text("SELECT pg_export_snapshot()")))
        parts = export_pg.estimated_split(first, filters) or export_pg.split(first, filters)
        sqls = [export_pg.literal_sql(first, cells, part) for part in parts]
        with snapshot_cursors(libpq_uri(engine.url), snapshot, len(parts)) as cursors:

            def batches(i: int) -> Callable[[], Iterator[pa.RecordBatch]]:
                return partial(typed_batches, cursors[i], sqls[i], columns, schema)

            with export_pg.part_files(path, len(parts)) as rest:
                jobs = [export_pg.Background(partial(export_pg.spool, batches(i)(), spool, schema),
                                             cursors[i].adbc_cancel)
                        for i, spool in enumerate(rest, 1)]  # fmt: skip
                try:
                    yield from export_sqlite.read_ahead(batches(0))
                    for job, spool in zip(jobs, rest, strict=True):
                        job.wait(None)
                        yield from export_pg.spooled(spool)
                finally:
                    for job in jobs:
                        job.stop()
