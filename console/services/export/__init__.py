"""Exports in CSV, Excel (xlsx), Parquet and JSONL: every mention field plus the current classification.

One path for every store and format: the database joins and filters in one query, its ADBC driver hands the
rows over as Arrow batches (:mod:`~console.services.export.read`), and a writer per format
(:mod:`~console.services.export.writers`) appends them a chunk at a time, so memory stays flat for a million
rows.  CSV and Excel cells are rendered by :mod:`~console.services.export.cells`, formulas neutralised.
Times are ISO 8601 in UTC and every time column's name ends in ``_utc``.  A file is written under a temporary
name and renamed when complete, so a failed export never leaves a half file behind.  Exporting needs
:attr:`~console.services.permissions.Permission.EXPORT` (managers, analysts, admins; the command line acts
as :meth:`~console.services.permissions.Actor.system`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
from sqlalchemy.orm import Session

from console.services.export.cells import neutralise
from console.services.export.read import ExportUnavailable, arrow_schema, mention_batches
from console.services.export.writers import WRITERS
from console.services.mention_query import CHUNK_ROWS, MentionFilters, columns_for, count
from console.services.permissions import Actor, Permission, require

__all__ = [
    "FORMATS",
    "PARQUET_CODECS",
    "PARQUET_COMPRESSION",
    "ExportResult",
    "ExportUnavailable",
    "Format",
    "arrow_schema",
    "export_mentions",
    "format_from_path",
    "matching_rows",
    "mention_batches",
    "neutralise",
]

Format = Literal["csv", "xlsx", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet", "jsonl")
PARQUET_CODECS = ("snappy", "zstd", "lz4", "none")
PARQUET_COMPRESSION = "snappy"
"""Parquet's usual default (pyarrow's, pandas', Spark's, DuckDB's); ``zstd`` writes a smaller file, more slowly."""


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    path: Path
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
    actor: Actor,
    filters: MentionFilters,
    fmt: Format,
    out: Path,
    *,
    include_raw: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
    parquet_compression: str = PARQUET_COMPRESSION,
) -> ExportResult:
    """Stream the matching mentions into ``out``; ``progress`` gets the rows written per chunk of ``chunk_rows``.

    ``parquet_compression`` is one of :data:`PARQUET_CODECS`.  Raises :class:`ExportUnavailable` when the
    store cannot be read for an export, :class:`~console.services.permissions.PermissionDenied` to a role without
    ``EXPORT`` (before any file is opened).
    """
    require(actor, Permission.EXPORT)
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if parquet_compression not in PARQUET_CODECS:
        raise ValueError(f"unknown Parquet compression {parquet_compression!r}; use one of {', '.join(PARQUET_CODECS)}")
    columns = columns_for(include_raw)
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    batches = mention_batches(session, actor, filters, columns, canonical_json=fmt != "jsonl")
    rows = 0
    try:
        with contextlib.closing(batches):  # closed now, not at garbage collection: it holds a connection
            writer = WRITERS[fmt](partial, columns, parquet_compression)
            try:
                for chunk in _chunks(batches, chunk_rows):
                    writer.write(chunk)
                    rows += chunk.num_rows
                    if progress:
                        progress(chunk.num_rows)
            except BaseException:
                with contextlib.suppress(Exception):  # the export's own error is the one to report
                    writer.close()
                raise
            writer.close()
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportResult(out, rows, tuple(c.name for c in columns))


def _chunks(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last one shorter), made of slices of the batches without copying."""
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


def matching_rows(session: Session, actor: Actor, filters: MentionFilters) -> int:
    """How many rows an export of ``filters`` will have."""
    require(actor, Permission.EXPORT)
    return count(session, filters)
