"""Read mentions from files: CSV with documented columns, or JSONL of X API v2 pages (twarc2).

Each bad row becomes a :class:`RowError` with its line number; good rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Author, Mention, Metrics, stamp_payload

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


def _header_map(fieldnames: list[str]) -> dict[str, str]:
    lowered = {name.strip().lower(): name for name in fieldnames if name}
    mapping = {}
    for canonical, aliases in CSV_COLUMNS.items():
        for alias in aliases:
            if alias in lowered:
                mapping[canonical] = lowered[alias]
                break
    return mapping


def _int(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    number = int(float(value))
    if number < 0:
        raise ValueError(f"negative count {value!r}")
    return number


def _row_to_mention(row: dict[str, str], cols: dict[str, str], source_name: str) -> tuple[Mention, str | None]:
    get = lambda key: (row.get(cols[key]) or "").strip() if key in cols else ""  # noqa: E731
    text = row.get(cols["text"]) or ""
    if not text.strip():
        raise ValueError("empty text")
    created = parse_time(get("created_at")) if get("created_at") else None
    if created is None:
        raise ValueError("missing created_at")
    platform = get("platform").lower() or "x"
    external_id = get("external_id") or "sha256:" + hashlib.sha256(f"{created.isoformat()}|{text}".encode()).hexdigest()
    handle = get("author").lstrip("@")
    author = None
    if handle:
        author = Author(platform, get("author_id") or handle.lower(), handle, None, _int(get("followers")))
    metrics = Metrics(likes=_int(get("likes")), reposts=_int(get("reposts")), replies=_int(get("replies")))
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
    return mention, get("brand") or None


def read_csv(path: Path) -> Iterator[ImportedMention | RowError]:
    """Yield a record or an error for every data row of a CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        cols = _header_map(list(reader.fieldnames or []))
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            accepted = "; ".join(f"{c}: {', '.join(CSV_COLUMNS[c])}" for c in missing)
            raise ImportFormatError(f"{path.name}: missing required column(s) — accepted names are {accepted}")
        start = reader.line_num + 1
        for row in reader:
            try:
                if None in row:
                    raise ValueError(f"{len(row[None]) + len(cols)}+ fields where the header has fewer")
                mention, brand = _row_to_mention(row, cols, path.name)
                yield ImportedMention(mention, brand, start)
            except (ValueError, TypeError) as exc:
                yield RowError(start, str(exc))
            start = reader.line_num + 1


def read_jsonl(path: Path) -> Iterator[ImportedMention | RowError]:
    """Yield records from X API v2 response pages, one JSON object per line, as twarc2 writes them."""
    from connectors.x.mapping import PageContext, map_page

    ctx = PageContext(frozenset(), "", True, f"file:{path.name}", datetime.now(UTC))
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                page = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RowError(line_no, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(page, dict) or not isinstance(page.get("data", []), list | dict):
                yield RowError(line_no, "not an X API v2 page: expected an object with 'data' and 'includes'")
                continue
            mapped = map_page(page, ctx)
            for m in mapped.mentions:
                yield ImportedMention(replace(m, replyable=False, replyable_reason=IMPORT_REASON), None, line_no)
            for skipped in mapped.skipped:
                yield RowError(line_no, f"post {skipped.external_id or '?'}: {skipped.reason}")
