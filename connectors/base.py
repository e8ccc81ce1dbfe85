"""The connector contract: platform-neutral records, batches, and the error families.

Connectors turn platform payloads into :class:`Mention` records and never touch the store;
``console`` hands their batches to ``storage.ingest``.  Storage reads these records
structurally (duck typing), so this module must not import ``storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

PAYLOAD_VERSION = 1
"""Bumped when the shape of ``Mention.raw`` stamping changes."""
NOTES_KEY = "_mentiondesk"
"""Key of ``Mention.raw`` where connectors note what they derived (original ids, estimated times, reposters)."""


class Platform(StrEnum):
    """Networks mentiondesk knows.  ``demo`` is the generated live source."""

    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    REDDIT = "reddit"
    RSS = "rss"
    DEMO = "demo"


# Why a mention cannot be answered from the console; stored beside ``replyable``.
REASON_REPLYABLE = "mentions or replies to the brand account"
REASON_SEARCH_ONLY = (
    "found by keyword search: X accepts self-serve replies only to posts that mention or quote the brand account"
)
REASON_LISTEN_ONLY = "listen-only source: the platform gives no reply channel for it"
REASON_NEWS = "news or blog item: there is nothing to reply to"
REASON_BRAND_POST = "posted by the brand itself"
REASON_REPOST = (
    "reached through a repost: X accepts self-serve replies only to posts that mention or quote the brand account"
)
REASON_DELETED_AUTHOR = "its author deleted their account: a reply would reach no one"


@dataclass(frozen=True, slots=True)
class Author:
    """Who posted a mention, as the platform describes them."""

    platform: str
    external_id: str
    handle: str
    display_name: str | None = None
    followers: int = 0
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Metrics:
    """Engagement counters; they change over time, so re-deliveries update them."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass(frozen=True, slots=True)
class Mention:
    """A platform-neutral post.  ``raw`` keeps the original payload for provenance.

    ``external_id`` is unique per platform.  ``in_reply_to_id`` and ``conversation_id`` are the
    platform's own ids, so threads can be rebuilt whatever order posts arrive in.
    ``is_brand_post`` marks the brand's own posts: they are threaded but never queued.
    """

    platform: str
    external_id: str
    text: str
    created_at: datetime
    author: Author | None = None
    url: str | None = None
    language: str | None = None
    conversation_id: str | None = None
    in_reply_to_id: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    replyable: bool = False
    replyable_reason: str = REASON_LISTEN_ONLY
    is_brand_post: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Batch:
    """One page of mentions plus the cursor to persist with them, in the same transaction."""

    mentions: list[Mention]
    next_cursor: str | None
    has_more: bool
    reads: int = 0
    """Posts the platform billed for this page (X charges per post read)."""
    skipped: list[SkippedItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """A malformed item that was left out of a batch, with its id and the reason."""

    external_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class PostedReply:
    """What the platform says about a reply it accepted."""

    external_id: str
    url: str | None
    posted_at: datetime


def stamp_payload(payload: Mapping[str, Any], *, url: str, retrieved_at: datetime) -> dict[str, Any]:
    """Wrap a raw payload with where and when it was fetched (twarc's ``__twarc`` habit)."""
    return {
        "data": dict(payload),
        "_meta": {"url": url, "retrieved_at": retrieved_at.isoformat(), "version": PAYLOAD_VERSION},
    }


def with_notes(raw: Mapping[str, Any], **notes: Any) -> dict[str, Any]:
    """Return ``raw`` with ``notes`` merged under :data:`NOTES_KEY`.

    The platform's payload stays as it came; what mentiondesk changed or inferred while mapping it
    (a hashed id, a fetch time standing in for a missing date, who reposted it) is written beside it,
    so a reader of the stored row can always tell the two apart.
    """
    merged = dict(raw)
    existing = merged.get(NOTES_KEY)
    merged[NOTES_KEY] = {**(existing if isinstance(existing, Mapping) else {}), **notes}
    return merged


def notes_of(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The notes :func:`with_notes` left in ``raw`` (empty when there are none)."""
    notes = raw.get(NOTES_KEY)
    return notes if isinstance(notes, Mapping) else {}


# --- Errors --------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Base of every error a connector raises on purpose."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetriableError(ConnectorError):
    """Try again later: rate limits, 5xx, timeouts.  ``retry_after`` is in seconds, when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Stop this source until a human fixes it; the message is shown to them as is."""


class AuthError(FatalError):
    """Credentials were refused (401/403)."""


class SkippableError(ConnectorError):
    """One malformed item: log it with its id, skip it, keep going."""

    def __init__(self, message: str, *, external_id: str | None = None) -> None:
        super().__init__(message)
        self.external_id = external_id


MAPPING_ERRORS: tuple[type[Exception], ...] = (
    SkippableError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)
"""What mapping one item can raise on a payload nobody foresaw (``1e400`` as a count, a list where an
object was): caught per item, so one bad item is skipped and the rest of the page is kept."""


def skippable(exc: Exception, item: Any) -> SkippableError:
    """``exc`` as the skip record of ``item``, naming the item's id where it has one."""
    if isinstance(exc, SkippableError):
        return exc
    ident = item.get("id") or item.get("uri") if isinstance(item, Mapping) else getattr(item, "id", None)
    detail = str(exc)[:120]
    return SkippableError(
        f"malformed item ({type(exc).__name__}: {detail})", external_id=str(ident)[:64] if ident else None
    )


class BudgetExhaustedError(FatalError):
    """The configured monthly read cap is reached; fetching stops until the next month."""


# --- The contract --------------------------------------------------------------------------------


@runtime_checkable
class Connector(Protocol):
    """What every network adapter provides."""

    platform: ClassVar[str]

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Return the next page after ``cursor`` (``None`` = start)."""
        ...

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Post ``text`` as a reply to ``to``; raise a ``ConnectorError`` on failure."""
        ...


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive input is taken to be UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
