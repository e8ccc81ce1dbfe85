"""Read mentions from files: CSV with documented columns, or JSONL of X API v2 pages (twarc2).

Each row is read, parsed and validated on its own: whatever is wrong with one (bytes that are not UTF-8,
a field over the size limit, a number or date out of range, JSON nested too deep) becomes a
:class:`RowError` with its line number and a plain reason, and every other row is kept.  The limits are
those of :mod:`connectors.limits`, documented in ``docs/import.md``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from connectors.base import Author, Mention, Metrics, stamp_payload
from connectors.limits import (
    Limits,
    MentionRejected,
    check_brand,
    check_count,
    check_depth,
    clean_field,
    cut,
    shown,
    validate_mention,
)

if TYPE_CHECKING:
    from connectors.x.mapping import MappedPage

IMPORT_REASON = "imported from a file: not from a connected account, so it cannot be answered from here"

# Canonical column -> accepted header names (first match wins).  The airline data set's headers
# (tweet_id, name, tweet_created, retweet_count, airline) are aliases, so it imports as is.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "id", "tweet_id", "post_id"),
    "text": ("text", "body", "content"),
    "created_at": ("created_at", "tweet_created", "date", "timestamp"),
    "platform": ("platform", "network"),
    "author": ("author", "author_handle", "handle", "name", "username", "screen_name"),
    "author_id": ("author_id", "user_id"),
    "followers": ("followers", "author_followers", "followers_count"),
    "url": ("url", "link"),
    "language": ("language", "lang"),
    "brand": ("brand", "airline"),
    "likes": ("likes", "like_count", "favorite_count"),
    "reposts": ("reposts", "retweet_count", "repost_count"),
    "replies": ("replies", "reply_count"),
    "conversation_id": ("conversation_id", "thread_id"),
    "in_reply_to_id": ("in_reply_to_id", "in_reply_to_status_id", "in_response_to_tweet_id"),
}
REQUIRED = ("text", "created_at")
_UNDECODED: Final = re.compile(r"[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class ImportedMention:
    """A mention read from a file, with the brand name the row names (if any)."""

    mention: Mention
    brand: str | None
    line: int


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read, with its line number and why."""

    line: int
    reason: str


class ImportFormatError(ValueError):
    """The whole file is unusable (wrong format, missing required columns)."""


def parse_time(value: str) -> datetime:
    """ISO 8601, Twitter's classic format, or US ``2/24/2015 11:35`` (taken as UTC, as the airline set is)."""
    text = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%a %b %d %H:%M:%S %z %Y"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            pass
    for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _time(value: str) -> datetime:
    try:
        return parse_time(value)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00, which is past the year 9999 in UTC
        raise ValueError(f"created_at: {shown(value)} is out of range") from None
    except ValueError:
        raise ValueError(
            f"created_at: {shown(value)} is not a date: use ISO 8601, "
            "'Tue Feb 24 11:35:52 +0000 2015' or '2/24/2015 11:35'"
        ) from None


def _header_map(fieldnames: list[str]) -> dict[str, str]:
    lowered = {name.strip().lower(): name for name in fieldnames if name}
    mapping = {}
    for canonical, aliases in CSV_COLUMNS.items():
        for alias in aliases:
            if alias in lowered:
                mapping[canonical] = lowered[alias]
                break
    return mapping


def _count(name: str, value: str, limits: Limits) -> int:
    """A count column: empty is 0; ``12`` and ``12.0`` are 12; anything else, or out of range, is an error."""
    if not value.strip():
        return 0
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            raise ValueError(f"{name}: {shown(value)} is not a number") from None
        if not math.isfinite(as_float):
            raise ValueError(f"{name}: {shown(value)} is not a finite number") from None
        number = int(as_float)
    if number < 0:
        raise ValueError(f"negative count {shown(value)}")
    return check_count(name, number, limits)


def _bad_bytes(row: dict[str | None, Any]) -> str | None:
    """Why a row is not valid UTF-8, or ``None``: undecodable bytes were read as lone surrogates (U+DC80-U+DCFF)."""
    cells = [(col, cell) for col, value in row.items() for cell in (value if isinstance(value, list) else [value])]
    if not _UNDECODED.search("".join(cell for _, cell in cells if isinstance(cell, str))):
        return None  # one scan for the whole row: the common case
    for column, cell in cells:
        found = _UNDECODED.search(cell) if isinstance(cell, str) else None
        if found:
            byte = ord(found.group()) - 0xDC00
            return f"not valid UTF-8: byte 0x{byte:02X} in column {shown(column)}"
    return None


def _too_big(row: dict[str | None, Any], limit: int) -> str | None:
    for column, value in row.items():
        if isinstance(value, str) and len(value) > limit:
            return f"column {shown(column)} is {len(value):,} characters, over the limit of {limit:,}"
    return None


def _row_to_mention(
    row: dict[str, str], cols: dict[str, str], source_name: str, limits: Limits
) -> tuple[Mention, str | None]:
    get = lambda key: (row.get(cols[key]) or "").strip() if key in cols else ""  # noqa: E731
    text = row.get(cols["text"]) or ""
    if not clean_field(text).strip():  # a text of NUL bytes is empty once it is storable
        raise ValueError("empty text")
    created = _time(get("created_at")) if get("created_at") else None
    if created is None:
        raise ValueError("missing created_at")
    platform = get("platform").lower() or "x"
    external_id = get("external_id") or "sha256:" + hashlib.sha256(f"{created.isoformat()}|{text}".encode()).hexdigest()
    handle = get("author").lstrip("@")
    author = None
    if handle:
        followers = _count("followers", get("followers"), limits)
        author = Author(platform, get("author_id") or handle.lower(), handle, None, followers)
    metrics = Metrics(
        likes=_count("likes", get("likes"), limits),
        reposts=_count("reposts", get("reposts"), limits),
        replies=_count("replies", get("replies"), limits),
    )
    raw = stamp_payload(row, url=f"file:{source_name}", retrieved_at=datetime.now(UTC))
    mention = Mention(
        platform=platform,
        external_id=external_id,
        text=text,
        created_at=created,
        author=author,
        url=get("url") or None,
        language=get("language") or None,
        conversation_id=get("conversation_id") or None,
        in_reply_to_id=get("in_reply_to_id") or None,
        metrics=metrics,
        replyable=False,
        replyable_reason=IMPORT_REASON,
        raw=raw,
    )
    brand = check_brand(get("brand")) if get("brand") else None
    return validate_mention(mention, limits), brand or None


def _reason(exc: Exception) -> str:
    """A plain reason: our own messages as they are, anything else named by its kind."""
    if isinstance(exc, ValueError | OverflowError) and str(exc):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    return f"could not read it ({type(exc).__name__}: {shown(str(exc), 200)})"


def _csv_record(
    row: dict[str | None, Any], cols: dict[str, str], source_name: str, line: int, limits: Limits
) -> ImportedMention | RowError:
    """One row, every failure of it caught: nothing one row holds may end the import."""
    try:
        problem = _bad_bytes(row) or _too_big(row, limits.max_field_size)
        if problem:
            return RowError(line, problem)
        if None in row:
            raise ValueError(f"{len(row[None]) + len(cols)}+ fields where the header has fewer")
        mention, brand = _row_to_mention(row, cols, source_name, limits)  # type: ignore[arg-type]
        return ImportedMention(mention, brand, line)
    except Exception as exc:  # noqa: BLE001 - row isolation: every failure becomes that row's error
        return RowError(line, _reason(exc))


def _allow_fields(limit: int) -> None:
    """Let the csv module read fields up to twice our limit, so an over-long one is reported by us, cleanly.

    Past that the csv module stops the row itself; the import goes on from the next physical line.
    """
    wanted = min(2 * limit, 2**31 - 1)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


def read_csv(path: Path, limits: Limits | None = None) -> Iterator[ImportedMention | RowError]:
    """Yield a record or an error for every data row of a CSV file."""
    limits = limits or Limits()
    _allow_fields(limits.max_field_size)
    # Undecodable bytes come through as lone surrogates, so the row holding them is named, not the file.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        try:
            fieldnames = list(reader.fieldnames or [])
        except csv.Error as exc:
            raise ImportFormatError(f"{path.name}: the header row cannot be read as CSV: {exc}") from None
        cols = _header_map(fieldnames)
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            accepted = "; ".join(f"{c}: {', '.join(CSV_COLUMNS[c])}" for c in missing)
            raise ImportFormatError(f"{path.name}: missing required column(s) — accepted names are {accepted}")
        rows = iter(reader)
        while True:
            start = reader.reader.line_num + 1
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(start, f"cannot be read as CSV: {exc}")
                continue
            yield _csv_record(row, cols, path.name, start, limits)


def _lines(handle: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; ``None`` for a line over ``max_bytes``, skipped without holding it."""
    line_no = 0
    while chunk := handle.readline(max_bytes + 1):
        line_no += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(1 << 20)
            yield line_no, None
        else:
            yield line_no, chunk


def _page(data: bytes, line_no: int, limits: Limits) -> Any:
    """Decode and parse one JSONL line; ``ValueError`` with a plain reason when it cannot be."""
    if line_no == 1 and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        line = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8: byte 0x{data[exc.start]:02X} at byte {exc.start + 1}") from None
    if not line.strip():
        return None
    try:
        page = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"not readable: nested deeper than {limits.max_json_depth} levels") from None
    except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion: …"
        raise ValueError(f"not valid JSON: {cut(str(exc).split(':')[0], 120)}") from None
    check_depth(page, limits.max_json_depth)
    return page


def _jsonl_records(
    data: bytes, line_no: int, map_page: Callable[[Any], MappedPage], limits: Limits
) -> Iterator[ImportedMention | RowError]:
    """The records of one JSONL line; every failure of it caught and reported on its line."""
    try:
        page = _page(data, line_no, limits)
        if page is None:
            return
        if not isinstance(page, dict) or not isinstance(page.get("data", []), list | dict):
            yield RowError(line_no, "not an X API v2 page: expected an object with 'data' and 'includes'")
            return
        mapped = map_page(page)
    except Exception as exc:  # noqa: BLE001 - row isolation
        yield RowError(line_no, _reason(exc))
        return
    for m in mapped.mentions:
        try:
            checked = validate_mention(replace(m, replyable=False, replyable_reason=IMPORT_REASON), limits)
        except MentionRejected as exc:
            yield RowError(line_no, f"post {m.external_id or '?'}: {exc}")
            continue
        yield ImportedMention(checked, None, line_no)
    for skipped in mapped.skipped:
        yield RowError(line_no, f"post {skipped.external_id or '?'}: {skipped.reason}")


def read_jsonl(path: Path, limits: Limits | None = None) -> Iterator[ImportedMention | RowError]:
    """Yield records from X API v2 response pages, one JSON object per line, as twarc2 writes them.

    Lines are read as bytes and decoded one by one, so a line that is not UTF-8 is that line's error.
    """
    from connectors.x.mapping import PageContext, map_page

    limits = limits or Limits()
    ctx = PageContext(frozenset(), "", True, f"file:{path.name}", datetime.now(UTC))
    with path.open("rb") as handle:
        for line_no, data in _lines(handle, limits.max_line_bytes):
            if data is None:
                yield RowError(line_no, f"the line is longer than {limits.max_line_bytes:,} bytes")
                continue
            yield from _jsonl_records(data, line_no, lambda page: map_page(page, ctx), limits)
