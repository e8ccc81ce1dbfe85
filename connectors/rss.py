"""RSS and Atom feeds through feedparser: news and blog items that name the brand (listen-only).

The feed is fetched with a conditional GET (``If-None-Match`` / ``If-Modified-Since``) so an
unchanged feed costs one small 304.  Feeds have no reliable order, so the cursor remembers short
hashes of the entries already seen instead of a single newest id.  Paged feeds (RFC 5005,
``<link rel="next">``) are followed while every entry on a page is new, so a burst of news
larger than one page is not lost.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlparse

import feedparser
import requests

from connectors.base import (
    MAPPING_ERRORS,
    REASON_BRAND_POST,
    REASON_NEWS,
    Author,
    Batch,
    FatalError,
    Mention,
    Platform,
    PostedReply,
    SkippableError,
    SkippedItem,
    skippable,
    stamp_payload,
    with_notes,
)
from connectors.errors import Action, ErrorRule, classify
from connectors.ids import fit_for_storage
from connectors.json_cursor import JsonCursor
from connectors.rate_limit import RateLimitWaiter, RetryPolicy, Sleeper, call_with_retries
from connectors.text import clean_text, html_to_text

log = logging.getLogger(__name__)
SEEN_LIMIT = 2000
"""Entry hashes kept in the cursor; far more than any feed window, small enough to store."""


@dataclass(frozen=True)
class RssConfig:
    """One feed.  ``keywords`` decide which items are about the brand (case-insensitive, whole words)."""

    feed_url: str
    keywords: tuple[str, ...]
    brand_feed: bool = False
    """True for the brand's own blog or newsroom: its items are the brand's posts."""
    max_pages: int = 5
    """Older pages (RFC 5005 ``rel="next"``) followed in one poll when a page was all new."""
    user_agent: str = "mentiondesk/0.1 (+https://github.com/mentiondesk)"
    request_timeout: float = 30.0
    attempts: int = 4
    max_rate_limit_wait: float = 15 * 60.0


@dataclass
class _Cursor(JsonCursor):
    """The validators of the last full fetch, the entry hashes already seen, and the older page being followed."""

    what: ClassVar[str] = "RSS"
    etag: str | None = None
    modified: str | None = None
    newest_id: str | None = None
    seen: list[str] = field(default_factory=list)
    next_url: str | None = None
    depth: int = 0


class RssConnector:
    """Poll one RSS/Atom feed for items that mention the brand."""

    platform: ClassVar[str] = Platform.RSS.value

    def __init__(
        self, config: RssConfig, *, sleep: Sleeper | None = None, session: requests.Session | None = None
    ) -> None:
        if not config.keywords and not config.brand_feed:
            raise FatalError("an RSS source needs at least one keyword (or brand_feed = true)")
        self.config = config
        self.session = session or requests.Session()
        self._waiter = RateLimitWaiter(
            sleeper=sleep if sleep is not None else time.sleep, max_wait_s=config.max_rate_limit_wait
        )
        self._pattern = _keyword_pattern(config.keywords)

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Fetch the feed (or the next older page) and return the new items that match a keyword."""
        state = _Cursor.load(cursor)
        url = state.next_url or self.config.feed_url
        response = self._get(url, conditional=state if state.next_url is None else None)
        if response.status_code == 304:
            return Batch([], cursor, has_more=False)
        parsed = self._parse(response, url)
        retrieved_at = datetime.now(UTC)
        seen = set(state.seen)
        mentions, skipped, page_hashes, all_new = self._collect(parsed, url, seen, retrieved_at)
        next_url = _next_link(parsed)
        follow = bool(next_url) and all_new and bool(page_hashes) and state.depth + 1 < self.config.max_pages
        new_state = _Cursor(
            etag=state.etag if state.next_url else response.headers.get("ETag"),
            modified=state.modified if state.next_url else response.headers.get("Last-Modified"),
            newest_id=state.newest_id if state.next_url else _first_id(parsed),
            seen=(page_hashes + [h for h in state.seen if h not in set(page_hashes)])[:SEEN_LIMIT],
            next_url=next_url if follow else None,
            depth=state.depth + 1 if follow else 0,
        )
        entries = len(parsed.entries)
        return Batch(mentions, new_state.dump(), has_more=follow, reads=entries, skipped=skipped)

    def _collect(
        self, parsed: Any, url: str, seen: set[str], retrieved_at: datetime
    ) -> tuple[list[Mention], list[SkippedItem], list[str], bool]:
        mentions: list[Mention] = []
        skipped: list[SkippedItem] = []
        hashes: list[str] = []
        all_new = True
        for entry in parsed.entries:
            entry_id = _entry_id(entry)
            if entry_id is None:
                skipped.append(SkippedItem(None, "feed item has neither an id nor a link"))
                log.warning("rss: skipped an item without id or link in %s", url)
                continue
            digest = _digest(entry_id)
            if digest in seen or digest in hashes:
                all_new = all_new and digest not in seen
                continue
            hashes.append(digest)
            try:
                mention = self._to_mention(entry, entry_id, parsed.feed, url, retrieved_at)
            except MAPPING_ERRORS as caught:
                exc = skippable(caught, {"id": entry_id})
                log.warning("rss: skipped item %s: %s", exc.external_id, exc)
                skipped.append(SkippedItem(exc.external_id, str(exc)))
                continue
            if mention is not None:
                mentions.append(mention)
        return mentions, skipped, hashes, all_new

    def _to_mention(self, entry: Any, entry_id: str, feed: Any, url: str, retrieved_at: datetime) -> Mention | None:
        title = clean_text(html_to_text(str(entry.get("title") or "")))
        summary = clean_text(html_to_text(_summary_html(entry)))
        if not title and not summary:
            raise SkippableError("feed item has no title and no text", external_id=entry_id)
        text = f"{title}\n\n{summary}".strip() if summary and summary != title else title or summary
        if not self.config.brand_feed and not self._pattern.search(text):
            return None
        brand = self.config.brand_feed
        published = _entry_time(entry)
        raw = stamp_payload(_plain(entry), url=url, retrieved_at=retrieved_at)
        if published is None:  # the column needs a time: the fetch time stands in, and says so
            raw = with_notes(raw, created_at_estimated=True)
        link = entry.get("link")
        return fit_for_storage(
            Mention(
                platform=self.platform,
                external_id=entry_id,
                text=text,
                created_at=published or retrieved_at,
                author=_author(entry, feed, self.config.feed_url),
                url=str(link) if link else None,
                language=_language(entry, feed),
                conversation_id=entry_id,
                replyable=False,
                replyable_reason=REASON_BRAND_POST if brand else REASON_NEWS,
                is_brand_post=brand,
                raw=raw,
                fetched_at=retrieved_at,
            )
        )

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """News and blog items have no reply channel."""
        raise FatalError("news items cannot be replied to")

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        """No reply is ever posted to a feed, so there is none to find."""
        return None

    # --- HTTP ----------------------------------------------------------------------------------

    def _get(self, url: str, *, conditional: _Cursor | None) -> requests.Response:
        headers = {"User-Agent": self.config.user_agent, "Accept": _ACCEPT}
        if conditional is not None and conditional.etag:
            headers["If-None-Match"] = conditional.etag
        if conditional is not None and conditional.modified:
            headers["If-Modified-Since"] = conditional.modified
        service = f"the feed at {urlparse(url).netloc or url}"

        def get() -> requests.Response:
            response = self.session.get(url, headers=headers, timeout=self.config.request_timeout)
            response.raise_for_status()
            return response

        return call_with_retries(
            get,
            classify_error=lambda exc, now: classify(exc, service=service, hints=_HINTS, overrides=_OVERRIDES, now=now),
            waiter=self._waiter,
            policy=RetryPolicy(attempts=self.config.attempts),
        )

    @staticmethod
    def _parse(response: requests.Response, url: str) -> Any:
        headers = {k.lower(): v for k, v in response.headers.items()}
        headers.setdefault("content-location", url)
        parsed = feedparser.parse(response.content, response_headers=headers)
        if parsed.get("bozo") and not parsed.entries and not parsed.feed:
            raise FatalError(f"{url} is not an RSS or Atom feed: {parsed.get('bozo_exception')}")
        if parsed.get("bozo"):
            log.warning("rss: %s is not well-formed (%s); kept what could be read", url, parsed.bozo_exception)
        return parsed


_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
_HINTS = {
    401: "the feed needs credentials, which mentiondesk does not send; use a public feed URL",
    403: "the site refuses our requests; check the URL or ask the site to allow the reader",
}
_OVERRIDES = {
    404: ErrorRule(Action.FATAL, "{service} no longer exists"),
    410: ErrorRule(Action.FATAL, "{service} was removed for good"),
}


def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    words = [re.escape(k.strip()) for k in keywords if k.strip()]
    if not words:
        return re.compile(r"(?!)")
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


def _entry_id(entry: Mapping[str, Any]) -> str | None:
    value = str(entry.get("id") or entry.get("link") or "").strip()
    return value or None


def _first_id(parsed: Any) -> str | None:
    return next((i for i in (_entry_id(e) for e in parsed.entries) if i), None)


def _digest(entry_id: str) -> str:
    return hashlib.sha256(entry_id.encode("utf-8", "replace")).hexdigest()[:16]


def _summary_html(entry: Mapping[str, Any]) -> str:
    content = entry.get("content")
    if isinstance(content, list) and content and content[0].get("value"):
        return str(content[0]["value"])
    return str(entry.get("summary") or "")


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """The item's own date (published, else updated, else created); ``None`` when it has none."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)  # skip feedparser's remap
        parsed = _struct_time(value) if value else None
        if parsed is not None:
            return parsed
    return None


def _struct_time(value: Any) -> datetime | None:
    """A UTC ``struct_time`` (as feedparser gives) as a datetime; ``None`` when no datetime can hold it."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, TypeError, ValueError):
        return None


def _author(entry: Mapping[str, Any], feed: Mapping[str, Any], feed_url: str) -> Author:
    site = urlparse(str(feed.get("link") or feed_url)).netloc or feed_url
    name = clean_text(str(entry.get("author") or feed.get("title") or site))
    return Author(platform=Platform.RSS.value, external_id=f"{site}/{name}", handle=name, display_name=name)


def _language(entry: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    detail = entry.get("title_detail") or {}
    lang = detail.get("language") or feed.get("language")
    return str(lang).split("-")[0].lower() if lang else None


def _next_link(parsed: Any) -> str | None:
    for link in parsed.feed.get("links", []):
        if link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


def _plain(obj: Any) -> Any:
    """Make a feedparser entry strictly JSON-ready, as PostgreSQL's ``jsonb`` and orjson want it.

    feedparser hands back ``time.struct_time`` dates, and podcast and media extensions add whatever
    the feed's author wrote (``itunes:duration`` may be ``"7:04"``, seconds, or junk).  Dates become
    ISO strings (or their fields, when out of datetime's range), ``NaN``/infinity become ``None``,
    bytes are decoded, other objects become their text, and NUL and other control characters go,
    since ``jsonb`` rejects ``\u0000``.
    """
    if isinstance(obj, time.struct_time):
        parsed = _struct_time(obj)
        return parsed.isoformat() if parsed is not None else list(obj)[:6]
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, bool | int) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, bytes):
        return clean_text(obj.decode("utf-8", "replace"))
    if isinstance(obj, Mapping):
        return {clean_text(str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    return clean_text(str(obj))
