"""Exports in CSV, Excel (xlsx), Parquet and JSONL: every mention field plus the current classification.

Rows stream from the store in chunks and go straight to the file, so memory stays flat
for a million rows.  CSV and Excel cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or CR) get a leading single quote, as
OWASP advises: mention text is written by strangers.  Times are ISO 8601 in UTC, and
every time column's name ends in ``_utc``.  A file is written under a temporary name and
renamed when complete, so a failed export never leaves a half file behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import text
from sqlalchemy.orm import Session

from console.services import export_adbc, export_pg, export_sqlite, export_sqlite_adbc
from console.services.export_columns import (
    arrow_batch_from,
    arrow_columns,
    csv_columns,
    supported,
)
from console.services.mention_query import (
    CHUNK_ROWS,
    Column,
    MentionFilters,
    columns_for,
    count,
    iter_chunks,
)
from console.services.sql_time import is_postgres

Format = Literal["csv", "xlsx", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet", "jsonl")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576
"""Excel's sheet limit, header included; longer exports continue on a new sheet."""
LIST_SEPARATOR = "; "
PARQUET_CODECS = ("snappy", "zstd", "lz4", "none")
PARQUET_COMPRESSION = "snappy"
"""Parquet's usual default (pyarrow's, pandas', Spark's, DuckDB's): a 1M-mention export took 4.36-5.25 s with it
and 4.86-6.21 s with zstd in four alternating pairs, for a 45% bigger file (182.6 vs 125.6 MiB).  ``zstd`` is
there for the smaller file."""
DICTIONARY_COLUMNS = (
    "platform",
    "brand",
    "brand_id",
    "source_id",
    "language",
    "replyable_reason",
    "status",
    "assignee",
    "assignee_id",
    "sentiment",
    "urgency",
    "priority",
    "model_name",
    "model_version",
    "model_sentiment",
    "model_urgency",
    "model_priority",
    "topics",
    "model_language",
)
"""Parquet dictionary-encodes only these few-valued columns.  Dictionaries for every column (pyarrow's default)
made writing a million mentions ~30% slower and the file bigger: ids, texts and times rarely repeat."""
UNSTATED_COLUMNS = (
    "external_id",
    "url",
    "author_handle",
    "author_name",
    "text",
    "conversation_id",
    "in_reply_to_external_id",
    "raw_json",
)
"""Free text: no min/max statistics (whole values, never used to skip a row group; 0.08 of 1.96 CPU-s writing
a million mentions).  Ids, times, numbers and the few-valued columns keep theirs."""

log = logging.getLogger(__name__)


def neutralise(value: str) -> str:
    """Prefix a single quote to text a spreadsheet would read as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def iso_utc(value: datetime) -> str:
    """``2026-11-02T09:00:00Z`` (microseconds kept when present)."""
    return value.isoformat().replace("+00:00", "Z")


def _cell(value: Any, kind: str) -> Any:
    """A value for a spreadsheet cell or CSV field: text neutralised, times ISO, lists joined."""
    if value is None:
        return None
    if kind == "time":
        return iso_utc(value)
    if kind == "list":
        return neutralise(LIST_SEPARATOR.join(str(v) for v in value))
    if kind == "json":
        return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if kind == "str":
        return neutralise(str(value))
    return value


class Writer(Protocol):
    """Writes chunks of rows to one file."""

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows."""

    def close(self) -> None:
        """Finish the file."""


class CsvWriter:
    """UTF-8 CSV with a header; booleans as ``true``/``false``, empty for missing values."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self.file = path.open("w", encoding="utf-8", newline="")
        self.kinds = [c.kind for c in columns]
        self.out = csv.writer(self.file)
        self.out.writerow([c.name for c in columns])

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows."""
        kinds = self.kinds
        self.out.writerows([_csv_value(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows)

    def close(self) -> None:
        """Flush and close."""
        self.file.close()


def _csv_value(value: Any, kind: str) -> Any:
    if kind == "bool" and value is not None:
        return "true" if value else "false"
    return _cell(value, kind)


class XlsxWriter:
    """openpyxl in write-only mode: rows go to disk as they come, one sheet per million rows."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self.path = path
        self.book = Workbook(write_only=True)
        self.header = [c.name for c in columns]
        self.kinds = [c.kind for c in columns]
        self.sheet: Any = None
        self.rows_in_sheet = XLSX_MAX_ROWS

    def _next_sheet(self) -> None:
        number = len(self.book.worksheets) + 1
        self.sheet = self.book.create_sheet("mentions" if number == 1 else f"mentions {number}")
        self.sheet.append(self.header)
        self.rows_in_sheet = 1

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows, starting a new sheet at Excel's row limit."""
        for row in rows:
            if self.rows_in_sheet >= XLSX_MAX_ROWS:
                self._next_sheet()
            self.sheet.append([_xlsx_value(v, k) for v, k in zip(row, self.kinds, strict=True)])
            self.rows_in_sheet += 1

    def close(self) -> None:
        """Save the workbook (an empty export still gets its header row)."""
        if self.sheet is None:
            self._next_sheet()
        self.book.save(self.path)


def _xlsx_value(value: Any, kind: str) -> Any:
    cell = _cell(value, kind)
    return ILLEGAL_CHARACTERS_RE.sub("", cell) if isinstance(cell, str) else cell


class JsonlWriter:
    """One JSON object per line, native types, times as ISO 8601 UTC strings."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self.file = path.open("w", encoding="utf-8")
        self.names = [c.name for c in columns]
        self.times = [i for i, c in enumerate(columns) if c.kind == "time"]

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows."""
        lines = []
        for row in rows:
            values = list(row)
            for i in self.times:
                if values[i] is not None:
                    values[i] = iso_utc(values[i])
            lines.append(json.dumps(dict(zip(self.names, values, strict=True)), ensure_ascii=False) + "\n")
        self.file.writelines(lines)

    def close(self) -> None:
        """Close the file."""
        self.file.close()


ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "time": pa.timestamp("us", tz="UTC"),
    "list": pa.list_(pa.string()),
    "json": pa.string(),
}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Parquet (and notebook) schema: one typed column per export column."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in columns])


def arrow_batch(rows: list[tuple[Any, ...]], columns: Sequence[Column], schema: pa.Schema) -> pa.RecordBatch:
    """Rows as a typed Arrow batch (column by column)."""
    arrays = []
    for i, column in enumerate(columns):
        values = [row[i] for row in rows]
        if column.kind == "json":
            values = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
        arrays.append(pa.array(values, type=schema.field(i).type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def parquet_writer(path: Path, schema: pa.Schema, compression: str = PARQUET_COMPRESSION) -> pq.ParquetWriter:
    """A Parquet writer: ``compression`` (snappy unless asked), dictionaries for :data:`DICTIONARY_COLUMNS` only."""
    dictionary = [name for name in schema.names if name in DICTIONARY_COLUMNS]
    stated = [name for name in schema.names if name not in UNSTATED_COLUMNS]
    return pq.ParquetWriter(path, schema, compression=compression, use_dictionary=dictionary, write_statistics=stated)


class ParquetWriter:
    """pyarrow ParquetWriter, one row group per chunk."""

    def __init__(self, path: Path, columns: Sequence[Column], compression: str = PARQUET_COMPRESSION) -> None:
        self.columns = columns
        self.schema = arrow_schema(columns)
        self.out = parquet_writer(path, self.schema, compression)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows as one row group."""
        if rows:
            self.out.write_batch(arrow_batch(rows, self.columns, self.schema))

    def close(self) -> None:
        """Write the footer."""
        self.out.close()


WRITERS: dict[str, Callable[[Path, Sequence[Column]], Writer]] = {
    "csv": CsvWriter,
    "xlsx": XlsxWriter,
    "parquet": ParquetWriter,
    "jsonl": JsonlWriter,
}


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    path: Path
    format: str
    rows: int
    columns: tuple[str, ...]


def format_from_path(path: Path) -> Format:
    """Guess the format from a file suffix (``.xlsx``, ``.parquet``...)."""
    suffix = path.suffix.lower().lstrip(".")
    aliases: dict[str, Format] = {"pq": "parquet", "ndjson": "jsonl", "json": "jsonl"}
    fmt = aliases.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format from {path.name!r}: use --format {'|'.join(FORMATS)}")
    return fmt  # type: ignore[return-value]


def export_mentions(
    session: Session,
    filters: MentionFilters,
    fmt: Format,
    out: Path,
    *,
    include_raw: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
    parquet_compression: str = PARQUET_COMPRESSION,
) -> ExportResult:
    """Stream the matching mentions into ``out``; ``progress`` gets the rows written per chunk.

    CSV and Parquet take the fast path (cells rendered by the database, see
    :mod:`console.services.export_columns`) unless the raw payload is asked for.  ``parquet_compression`` is
    one of :data:`PARQUET_CODECS`.
    """
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if parquet_compression not in PARQUET_CODECS:
        raise ValueError(f"unknown Parquet compression {parquet_compression!r}; use one of {', '.join(PARQUET_CODECS)}")
    codec = {"compression": parquet_compression} if fmt == "parquet" else {}
    columns = columns_for(include_raw)
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    if is_postgres(session):  # stream in index order with keyed joins rather than hash and sort a million rows
        session.execute(text("SET LOCAL random_page_cost = 1.1"))
    reading = contextlib.nullcontext() if is_postgres(session) else export_sqlite.without_mmap(session)
    try:
        with reading:
            if fmt in FAST and supported(columns):
                use_system_allocator()
                rows = FAST[fmt](session, filters, columns, partial, chunk_rows, progress, **codec)
            else:
                writer = WRITERS[fmt](partial, columns, **codec)  # type: ignore[call-arg]
                rows = _write_rows(session, filters, columns, writer, chunk_rows, progress)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportResult(out, fmt, rows, tuple(c.name for c in columns))


ProgressFn = Callable[[int], None] | None


def use_system_allocator() -> None:
    """Make the C library's allocator Arrow's default (for the whole process: it is Arrow's one default pool).

    Arrow's default, mimalloc, keeps a block that one thread frees of another thread's heap until that thread
    allocates again; the fast exports build their batches in reader threads and free them in the writer.
    Measured on 1M mentions, in alternating pairs: Parquet peak 410-478 -> 372-432 MB, CSV 398-423 -> 339-373 MB,
    times within the machine's noise (PostgreSQL Parquet 4.18-4.41 s against 4.40-5.24 s).
    """
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _write_rows(
    session: Session,
    filters: MentionFilters,
    columns: Sequence[Column],
    writer: Writer,
    chunk_rows: int,
    progress: ProgressFn,
) -> int:
    rows = 0
    try:
        for chunk in iter_chunks(session, filters, columns, chunk_rows=chunk_rows):
            writer.write(chunk)
            rows += len(chunk)
            if progress:
                progress(len(chunk))
        writer.close()
    except BaseException:
        _close_quietly(writer)
        raise
    return rows


def _rendered(columns: Sequence[Column], expressions: Sequence[Any]) -> list[Column]:
    return [Column(c.name, e, c.kind) for c, e in zip(columns, expressions, strict=True)]


def _fast_csv(
    session: Session,
    filters: MentionFilters,
    columns: Sequence[Column],
    path: Path,
    chunk_rows: int,
    progress: ProgressFn,
) -> int:
    """CSV rendered in Arrow from ADBC's batches; without ADBC, PostgreSQL's ``COPY`` or SQLite rows in ``csv``."""
    cells = csv_columns(session, columns)
    if is_postgres(session):
        chunks = export_adbc.csv_chunks(session, filters, columns, arrow_schema(columns), chunk_rows)
        try:
            head = next(chunks, _END)  # ADBC connects (or fails to) before its first chunk
        except export_adbc.Unavailable as exc:
            log.warning("PostgreSQL CSV export without ADBC (slower): %s", exc)
            header = (",".join(c.name for c in columns) + "\n").encode()  # plain identifiers: nothing to quote
            return export_pg.write_csv(session, filters, cells, header, path, chunk_rows, progress)
        return _write_lines(_primed(head, chunks), columns, path, progress)
    if (db := export_sqlite_adbc.database_file(session)) is not None:
        chunks = export_sqlite_adbc.csv_chunks(session, db, filters, columns, arrow_schema(columns), chunk_rows)
        return _write_lines(chunks, columns, path, progress)
    rows = 0
    rendered = _rendered(columns, cells)
    chunks = export_sqlite.read_ahead(lambda: export_sqlite.raw_chunks(session, filters, rendered, chunk_rows))
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow([c.name for c in columns])
        try:
            for chunk in chunks:
                out.writerows(chunk)
                rows += len(chunk)
                if progress:
                    progress(len(chunk))
        finally:
            chunks.close()
    return rows


def _write_lines(
    chunks: Generator[tuple[memoryview, int], None, None], columns: Sequence[Column], path: Path, progress: ProgressFn
) -> int:
    """The header (CRLF, as the lines) and each chunk of lines, as they come."""
    rows = 0
    try:
        with path.open("wb") as file:
            file.write((",".join(c.name for c in columns) + "\r\n").encode())
            for lines, count in chunks:
                file.write(lines)
                rows += count
                if progress:
                    progress(count)
    finally:
        chunks.close()
    return rows


def _fast_parquet(
    session: Session,
    filters: MentionFilters,
    columns: Sequence[Column],
    path: Path,
    chunk_rows: int,
    progress: ProgressFn,
    compression: str = PARQUET_COMPRESSION,
) -> int:
    """Parquet from typed batches: PostgreSQL's binary COPY decoded by ADBC, or SQLite rows per column.

    Without ADBC, PostgreSQL's CSV COPY is read by Arrow's CSV reader.
    """
    schema = arrow_schema(columns)
    if is_postgres(session):
        batches = _pg_batches(session, filters, columns, schema, path)
    elif (db := export_sqlite_adbc.database_file(session)) is not None:
        batches = export_sqlite_adbc.parquet_batches(session, db, filters, columns, schema, chunk_rows)
    else:
        cells = arrow_columns(session, columns)
        batches = _sqlite_batches(session, filters, _rendered(columns, cells), columns, schema, chunk_rows)
    writer = parquet_writer(path, schema, compression)
    rows = 0
    try:
        for table in rechunk(batches, chunk_rows):
            writer.write_table(table, row_group_size=table.num_rows)
            rows += table.num_rows
            if progress:
                progress(table.num_rows)
    finally:
        batches.close()  # now, not at garbage collection: a COPY left open blocks the session's rollback
        writer.close()
    return rows


_END: Any = object()


def _pg_batches(
    session: Session, filters: MentionFilters, columns: Sequence[Column], schema: pa.Schema, path: Path
) -> Generator[pa.RecordBatch, None, None]:
    """ADBC's batches, or the CSV-based path's with a warning when ADBC is missing or cannot connect."""
    batches = export_adbc.parquet_batches(session, filters, columns, schema, path)
    try:
        head = next(batches, _END)  # ADBC connects (or fails to) before its first batch
    except export_adbc.Unavailable as exc:
        log.warning("PostgreSQL Parquet export without ADBC (slower): %s", exc)
        return export_pg.parquet_batches(session, filters, arrow_columns(session, columns), columns, schema, path)
    return _primed(head, batches)


def _primed(head: Any, rest: Generator[pa.RecordBatch, None, None]) -> Generator[pa.RecordBatch, None, None]:
    try:
        if head is not _END:
            yield head
            yield from rest
    finally:
        rest.close()


def _sqlite_batches(
    session: Session,
    filters: MentionFilters,
    rendered: Sequence[Column],
    columns: Sequence[Column],
    schema: pa.Schema,
    chunk_rows: int,
) -> Generator[pa.RecordBatch, None, None]:
    def convert() -> Iterator[pa.RecordBatch]:
        for chunk in export_sqlite.raw_chunks(session, filters, rendered, chunk_rows):
            yield arrow_batch_from(chunk, columns, schema)

    return export_sqlite.read_ahead(convert)  # the reader converts while this thread compresses and writes


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last one shorter), made of slices of the batches without copying.

    Each is written as one Parquet row group.  Concatenating into single batches instead (``combine_chunks``)
    copied every row, and cost ~2.3 s of CPU per million mentions.
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == rows:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


FAST: dict[str, Callable[..., int]] = {"csv": _fast_csv, "parquet": _fast_parquet}


def _close_quietly(writer: Writer) -> None:
    with contextlib.suppress(Exception):  # the export's own error is the one to report
        writer.close()


def matching_rows(session: Session, filters: MentionFilters) -> int:
    """How many rows an export of ``filters`` will have."""
    return count(session, filters)
