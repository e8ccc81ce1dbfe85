"""What one mention may carry into the store, and the one check every way in goes through.

A connector's page and a row of a CSV or JSONL file are untrusted alike: any of their values may be
too long for its column, out of a column's range, nested past what a JSON encoder can walk, or hold a
character a database refuses.  :func:`validate_mention` makes a record storable or rejects it with a
reason a person can read, so one bad record never sinks the batch around it.  ``docs/import.md``
lists these limits in a table; keep the two in step.

What is cleaned, what is cut, what is rejected:

* Control characters (NUL included: PostgreSQL refuses it in text and in ``jsonb``) are removed from
  every text field, and lone surrogates become U+FFFD (:func:`connectors.text.clean_text`).  In the raw
  payload only NUL and lone surrogates are replaced, the two things the store cannot hold.
* A text over ``max_text_length`` is stored cut, ending in "…"; the raw payload keeps the original (it
  is added to the notes when the payload does not already hold it).
* Over-long ids, handles, names, links and languages are fitted by :func:`connectors.ids.fit_for_storage`.
* Rejected: a platform that is empty or over 16 characters, a missing id or text, a time outside
  :data:`EARLIEST`–:data:`LATEST`, a count that is not a whole number from 0 to :data:`MAX_COUNT`, a raw
  payload nested deeper than ``max_json_depth``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from connectors.base import Author, Mention, Metrics, SkippedItem, with_notes
from connectors.ids import fit_for_storage
from connectors.text import clean_text

MAX_COUNT: Final = 2**31 - 1
"""Counts (likes, reposts, replies, quotes, followers) are 32-bit ``integer`` columns on PostgreSQL."""
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_PLATFORM: Final = 16
"""``mentions.platform`` and ``authors.platform`` are ``varchar(16)``."""
MAX_BRAND: Final = 120
"""``brands.name`` is ``varchar(120)``."""
MAX_REASON: Final = 255
"""``mentions.replyable_reason`` is ``varchar(255)``."""
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Post times outside [EARLIEST, LATEST) are data errors, never real posts."""
DEFAULT_MAX_TEXT: Final = 40_000
"""The default of ``[ingest] max_text_length`` in the config."""
MARK: Final = "…"

_UNCLEAN: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_UNSTORABLE: Final = re.compile(r"[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits one ingest applies; build it from ``[ingest]`` in the config where the pieces are joined."""

    max_text_length: int = DEFAULT_MAX_TEXT
    """Longer texts are stored cut at this many characters, "…" included."""
    max_field_size: int = 16 * 1024 * 1024
    """A CSV field (any column) longer than this many characters rejects its row."""
    max_line_bytes: int = 64 * 1024 * 1024
    """A JSONL line longer than this many bytes is rejected without being read into memory whole."""
    max_json_depth: int = 64
    """JSON nested deeper than this (arrays and objects) is rejected; X pages are about 6 deep."""
    max_count: int = MAX_COUNT
    earliest: datetime = EARLIEST
    latest: datetime = LATEST


class MentionRejected(ValueError):  # noqa: N818 - it names the outcome, as SkippedItem does
    """A record the store cannot take; the message says why in plain words."""


def shown(value: object, width: int = 40) -> str:
    """``repr`` of a value for a reason, shortened: a 10 MB bad value must not become a 10 MB message."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def check_depth(value: Any, limit: int, what: str = "") -> None:
    """Raise :class:`MentionRejected` when ``value`` nests arrays/objects more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth + 1 > limit:
            raise MentionRejected(f"{what} nested deeper than {limit} levels".lstrip())
        stack.extend((child, depth + 1) for child in children)


def _raw_is_unclean(value: Any, limit: int) -> bool:
    """Whether the raw tree needs :func:`_storable_raw`; raise when it is nested deeper than ``limit``.

    One orjson pass (as ingest will encode it) finds what the store cannot take: a lone surrogate, an
    integer past 64 bits, a key that is not a string, nesting past orjson's 255 levels (all raise), a NUL
    (which it escapes as backslash-u0000).  The tree is walked only when it has more brackets than ``limit``.
    """
    try:
        encoded = orjson.dumps(value, default=str)
    except (orjson.JSONEncodeError, TypeError):
        check_depth(value, limit, "raw payload")
        return True
    if encoded.count(b"[") + encoded.count(b"{") > limit:
        check_depth(value, limit, "raw payload")
    return b"\\u0000" in encoded


def _storable_str(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def _storable_raw(node: Any) -> Any:
    """The raw tree with NUL removed, lone surrogates replaced and integers beyond int64 written as strings."""
    if isinstance(node, str):
        return _storable_str(node)
    if isinstance(node, Mapping):
        return {_storable_str(str(k)): _storable_raw(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_storable_raw(v) for v in node]
    if isinstance(node, int) and not isinstance(node, bool) and not INT64_MIN <= node <= INT64_MAX:
        return str(node)
    return node


def _contains(node: Any, text: str) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item == text:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def clean_field(value: str) -> str:
    """:func:`connectors.text.clean_text`, but ``value`` itself (no copy) when there is nothing to clean."""
    return clean_text(value) if _UNCLEAN.search(value) else value


_clean = clean_field


def _clean_opt(value: str | None) -> str | None:
    return None if value is None else _clean(str(value)) or None


def check_count(name: str, value: object, limits: Limits) -> int:
    """``value`` as a count, or :class:`MentionRejected` saying which count and why."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise MentionRejected(f"{name}: {shown(value)} is not a whole number")
    if not 0 <= value <= limits.max_count:
        raise MentionRejected(f"{name}: {shown(value)} is outside 0 to {limits.max_count:,}")
    return value


def check_time(name: str, value: object, limits: Limits) -> datetime:
    """``value`` as an aware UTC time within the limits (naive is taken as UTC), or :class:`MentionRejected`."""
    if not isinstance(value, datetime):
        raise MentionRejected(f"{name}: {shown(value)} is not a time")
    if value.tzinfo is UTC:
        at = value
    else:
        try:
            at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise MentionRejected(f"{name}: {value} cannot be taken to UTC ({exc})") from None
    if not limits.earliest <= at < limits.latest:
        span = f"{limits.earliest.date().isoformat()} to {limits.latest.date().isoformat()}"
        raise MentionRejected(f"{name}: {at.date().isoformat()} is outside {span}")
    return at


def check_platform(value: object) -> str:
    """A platform name that fits its column, or :class:`MentionRejected`."""
    platform = _clean(value) if isinstance(value, str) else ""
    if not platform:
        raise MentionRejected("the platform is missing")
    if len(platform) > MAX_PLATFORM:
        raise MentionRejected(f"platform {shown(platform)} is longer than {MAX_PLATFORM} characters")
    return platform


def check_brand(value: str) -> str:
    """A brand name from a file, cleaned, that fits ``brands.name``, or :class:`MentionRejected`."""
    brand = _clean(value).strip()
    if len(brand) > MAX_BRAND:
        raise MentionRejected(f"brand {shown(brand)} is longer than {MAX_BRAND} characters")
    return brand


def cut(text: str, limit: int) -> str:
    """``text`` itself when it fits ``limit`` characters, else its first ``limit - 1`` and "…"."""
    return text if len(text) <= limit else text[: limit - 1] + MARK


def _changed(record: Any, values: dict[str, Any]) -> Any:
    """``record`` itself when every value is the one it holds (the common case), else a copy with them."""
    changes = {key: value for key, value in values.items() if value is not getattr(record, key)}
    return replace(record, **changes) if changes else record


def _author(author: Author | None, limits: Limits) -> Author | None:
    if author is None:
        return None
    external_id = _clean(str(author.external_id or ""))
    if not external_id:
        raise MentionRejected("the author has no id")
    values = {
        "platform": check_platform(author.platform),
        "external_id": external_id,
        "handle": _clean(str(author.handle or "")) or external_id,
        "display_name": _clean_opt(author.display_name),
        "followers": check_count("followers", author.followers, limits),
    }
    return _changed(author, values)


def _metrics(metrics: Metrics, limits: Limits) -> Metrics:
    for name in ("likes", "reposts", "replies", "quotes"):
        check_count(name, getattr(metrics, name), limits)
    return metrics


def _raw(mention: Mention, text: str, limits: Limits) -> Mapping[str, Any]:
    """The raw payload, storable; when the text was cut, one that still holds the original text."""
    raw: Mapping[str, Any] = mention.raw if isinstance(mention.raw, Mapping) else {"value": str(mention.raw)}
    if _raw_is_unclean(raw, limits.max_json_depth):
        raw = _storable_raw(raw)
    if len(text) <= limits.max_text_length:
        return raw
    notes: dict[str, Any] = {"text_cut_from": len(text)}
    if not _contains(raw, text):
        notes["full_text"] = text
    return with_notes(raw, **notes)


def validate_mention(mention: Mention, limits: Limits) -> Mention:
    """Return ``mention`` made storable (cleaned, cut, fitted), or raise :class:`MentionRejected` with why.

    Cheap when nothing is wrong: a few regular-expression scans, one orjson pass over the raw payload,
    and the record itself comes back (no copy).
    """
    if not isinstance(mention.external_id, str) or not _clean(mention.external_id):
        raise MentionRejected("the post has no id")
    if not isinstance(mention.text, str):
        raise MentionRejected("the post has no text")
    text = _clean(mention.text)
    values = {
        "platform": check_platform(mention.platform),
        "external_id": _clean(mention.external_id),
        "text": cut(text, limits.max_text_length),
        "created_at": check_time("created_at", mention.created_at, limits),
        "fetched_at": check_time("fetched_at", mention.fetched_at, limits),
        "author": _author(mention.author, limits),
        "url": _clean_opt(mention.url),
        "language": _clean_opt(mention.language),
        "conversation_id": _clean_opt(mention.conversation_id),
        "in_reply_to_id": _clean_opt(mention.in_reply_to_id),
        "metrics": _metrics(mention.metrics, limits),
        "replyable_reason": cut(_clean(str(mention.replyable_reason or "")), MAX_REASON),
        "raw": _raw(mention, text, limits),
    }
    return fit_for_storage(_changed(mention, values))


def screen(mentions: Iterable[Mention], limits: Limits) -> tuple[list[Mention], list[SkippedItem]]:
    """Validate a batch: the storable records, and a skip record (id and reason) for each rejected one."""
    kept: list[Mention] = []
    skipped: list[SkippedItem] = []
    for mention in mentions:
        try:
            kept.append(validate_mention(mention, limits))
        except MentionRejected as exc:
            skipped.append(SkippedItem(_id_of(mention), str(exc)))
    return kept, skipped


def _id_of(mention: Mention) -> str | None:
    value = mention.external_id
    return cut(_storable_str(value), 128) if isinstance(value, str) and value else None
