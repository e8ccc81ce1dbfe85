"""Import mention files through the real ingest path, chunk by chunk, each row on its own terms.

The readers validate every row (:mod:`connectors.limits`); a chunk then goes in under a savepoint, and a
row the database still refuses is found by halving the chunk and reported on its line like any other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import update

from connectors.file_import import ImportedMention, ImportFormatError, RowError, read_csv, read_jsonl
from connectors.limits import Limits
from console.services.catalog import ensure_brand
from console.services.store import Store
from storage.enums import MentionStatus
from storage.ingest import IngestResult, ingest_isolated
from storage.maintenance import refresh_statistics
from storage.models import Mention as MentionRow

CHUNK = 2_000


@dataclass
class ImportReport:
    """What an import did; ``errors`` name each bad row's line."""

    rows: int = 0
    result: IngestResult = field(default_factory=IngestResult)
    errors: list[RowError] = field(default_factory=list)


def _reader(path: Path, fmt: str | None, limits: Limits) -> Iterator[ImportedMention | RowError]:
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind == "csv":
        return read_csv(path, limits)
    if kind in ("jsonl", "ndjson", "json"):
        return read_jsonl(path, limits)
    raise ImportFormatError(f"{path.name}: unknown format {kind!r}; use .csv or .jsonl (or --format)")


def _chunks(items: Iterable[ImportedMention | RowError], size: int) -> Iterator[list[ImportedMention | RowError]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _store_chunk(
    store: Store, records: list[ImportedMention], status: MentionStatus | None
) -> tuple[IngestResult, list[RowError]]:
    """Store one chunk in one transaction; rows the database refuses come back as errors on their lines."""
    total, refused = IngestResult(), []
    with store.transaction() as session:
        by_brand: dict[str | None, list[ImportedMention]] = defaultdict(list)
        for rec in records:
            by_brand[rec.brand].append(rec)
        for brand, group in by_brand.items():
            brand_id = ensure_brand(session, brand) if brand else None
            result, rejected = ingest_isolated(session, [r.mention for r in group], brand_id=brand_id)
            total += result
            refused += [RowError(group[r.index].line, r.reason) for r in rejected]
            if status is not None and status is not MentionStatus.NEW:
                gone = {r.index for r in rejected}
                mentions = [r.mention for i, r in enumerate(group) if i not in gone]
                ids = [m.external_id for m in mentions]
                platforms = sorted({m.platform for m in mentions})  # with external_id: the unique index
                session.execute(
                    update(MentionRow)
                    .where(
                        MentionRow.platform.in_(platforms),
                        MentionRow.external_id.in_(ids),
                        MentionRow.status == MentionStatus.NEW,
                    )
                    .values(status=status)
                )
    return total, refused


def import_file(
    store: Store,
    path: Path,
    *,
    fmt: str | None = None,
    status: MentionStatus | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> ImportReport:
    """Ingest every good row of ``path``; each chunk commits on its own, so a re-run adds nothing.

    ``limits`` come from ``[ingest]`` in the config (the caller builds them); the defaults otherwise.
    Errors are reported in line order.
    """
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    report = ImportReport()
    for items in _chunks(_reader(path, fmt, limits or Limits()), chunk):
        good = [i for i in items if isinstance(i, ImportedMention)]
        errors = [i for i in items if isinstance(i, RowError)]
        report.rows += len(items)
        if good:
            stored, refused = _store_chunk(store, good, status)
            report.result += stored
            errors = sorted(errors + refused, key=lambda e: e.line) if refused else errors
        report.errors.extend(errors)
        if progress:
            progress(len(items))
    refresh_statistics(store.engine)
    return report
