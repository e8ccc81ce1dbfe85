"""Bluesky through the atproto client: notifications (replyable) and post search (listen-only).

Both endpoints list newest first and page towards older items with an opaque cursor.  A poll walks
from the top until it reaches an item indexed at or before the watermark (the newest ``indexedAt``
already stored), then advances the watermark.  The cursor string carries the watermark, the API
cursor of a walk in progress, and the newest time seen in that walk, so a crash mid-walk resumes
where it stopped and a finished walk never re-reads old pages.

Responses are read as raw JSON through the client's ``invoke_query`` (same auth, session refresh
and error handling as the typed helpers) so that one malformed item is skipped instead of
failing validation of the whole page.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from atproto import Client, models
from atproto_client.exceptions import NetworkError as AtNetworkError

from connectors.base import (
    MAPPING_ERRORS,
    REASON_BRAND_POST,
    REASON_LISTEN_ONLY,
    REASON_REPLYABLE,
    Author,
    Batch,
    ConnectorError,
    FatalError,
    Mention,
    Metrics,
    Platform,
    PostedReply,
    RetriableError,
    SkippableError,
    SkippedItem,
    skippable,
    stamp_payload,
    utc,
)
from connectors.errors import classify
from connectors.ids import fit_for_storage
from connectors.json_cursor import JsonCursor
from connectors.rate_limit import RateLimitWaiter, RetryPolicy, Sleeper, call_with_retries
from connectors.text import clean_text

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTIFICATIONS = "app.bsky.notification.listNotifications"
SEARCH = "app.bsky.feed.searchPosts"
REPLY_REASONS = ("mention", "reply")
POST_TYPES = frozenset({"app.bsky.feed.post", "app.bsky.feed.post#main"})
"""A record's ``$type`` may name the lexicon or its ``main`` definition; both are a post."""
INVALID_HANDLE = "handle.invalid"
"""What the AppView shows for a handle that no longer resolves to its DID."""
PROFILE_BATCH = 25
"""Most actors ``app.bsky.actor.getProfiles`` takes in one request."""
FOLLOWERS_TTL_S = 6 * 3600.0
FOLLOWERS_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class BlueskyConfig:
    """One Bluesky source.  ``app_password`` is passed in by the caller, never read from a file."""

    handle: str
    app_password: str
    account_did: str
    """The brand account's DID: its posts are the brand's, never inbound mentions."""
    base_url: str = "https://bsky.social"
    source: Literal["notifications", "search"] = "notifications"
    query: str | None = None
    lang: str | None = None
    attempts: int = 4
    max_rate_limit_wait: float = 15 * 60.0


@dataclass
class _Cursor(JsonCursor):
    """The watermark already stored, and the API cursor and newest time of a walk still in progress."""

    what: ClassVar[str] = "Bluesky"
    watermark: str | None = None
    page: str | None = None
    walk_newest: str | None = None


class BlueskyConnector:
    """Pull Bluesky mentions and replies (or search hits) and reply with a threaded post."""

    platform: ClassVar[str] = Platform.BLUESKY.value

    def __init__(self, config: BlueskyConfig, *, sleep: Sleeper | None = None, client: Client | None = None) -> None:
        if config.source == "search" and not (config.query or "").strip():
            raise FatalError("a Bluesky search source needs a query")
        self.config = config
        self.client = client or Client(base_url=config.base_url)
        self._logged_in = client is not None and getattr(client, "_session", None) is not None
        self._waiter = RateLimitWaiter(
            sleeper=sleep if sleep is not None else time.sleep, max_wait_s=config.max_rate_limit_wait
        )
        self._followers = _FollowerCache(FOLLOWERS_TTL_S, FOLLOWERS_CACHE_SIZE, clock=time.monotonic)

    # --- fetching ------------------------------------------------------------------------------

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Return the next page of items newer than the watermark (one page of backfill at first)."""
        state = _Cursor.load(cursor)
        content = self._page(state.page, max(1, min(limit, 100)))
        raw_items = content.get("notifications" if self.config.source == "notifications" else "posts") or []
        retrieved_at = datetime.now(UTC)
        mentions, skipped, newest, reached_old = self._collect(raw_items, state.watermark, retrieved_at)
        mentions = [fit_for_storage(m) for m in self._with_followers(mentions)]
        walk_newest = max(filter(None, [state.walk_newest, newest]), default=None)
        api_cursor = content.get("cursor")
        more = bool(api_cursor) and bool(raw_items) and not reached_old and state.watermark is not None
        if more:
            next_state = _Cursor(state.watermark, str(api_cursor), walk_newest)
        else:
            next_state = _Cursor(max(filter(None, [state.watermark, walk_newest]), default=None))
        return Batch(mentions, next_state.dump(), has_more=more, reads=len(raw_items), skipped=skipped)

    def _page(self, api_cursor: str | None, limit: int) -> Mapping[str, Any]:
        params: Any
        if self.config.source == "notifications":
            nsid = NOTIFICATIONS
            params = models.AppBskyNotificationListNotifications.Params(
                cursor=api_cursor, limit=limit, reasons=list(REPLY_REASONS)
            )
        else:
            nsid = SEARCH
            params = models.AppBskyFeedSearchPosts.Params(
                q=self.config.query or "",
                sort="latest",
                cursor=api_cursor,
                limit=limit,
                lang=self.config.lang,
            )
        response = self._call(lambda: self.client.invoke_query(nsid, params=params))
        if not isinstance(response.content, Mapping):
            raise RetriableError(f"Bluesky sent a non-JSON answer to {nsid}")
        return response.content

    def _collect(
        self, items: list[Any], watermark: str | None, retrieved_at: datetime
    ) -> tuple[list[Mention], list[SkippedItem], str | None, bool]:
        mentions: list[Mention] = []
        skipped: list[SkippedItem] = []
        seen: set[str] = set()
        newest: str | None = None
        reached_old = False
        for item in items:
            indexed = item.get("indexedAt") if isinstance(item, Mapping) else None
            if watermark and isinstance(indexed, str) and _ts(indexed) <= _ts(watermark):
                reached_old = True
                continue
            if isinstance(indexed, str) and (newest is None or _ts(indexed) > _ts(newest)):
                newest = indexed
            try:
                mention = self._to_mention(item, retrieved_at)
            except MAPPING_ERRORS as caught:
                exc = skippable(caught, item)
                log.warning("bluesky: skipped item %s: %s", exc.external_id, exc)
                skipped.append(SkippedItem(exc.external_id, str(exc)))
                continue
            if mention is not None and mention.external_id not in seen:
                seen.add(mention.external_id)
                mentions.append(mention)
        return mentions, skipped, newest, reached_old

    def _to_mention(self, item: Any, retrieved_at: datetime) -> Mention | None:
        uri = item.get("uri") if isinstance(item, Mapping) else None
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise SkippableError("item has no at:// uri", external_id=str(uri) if uri else None)
        if self.config.source == "notifications" and item.get("reason") not in REPLY_REASONS:
            return None
        record = item.get("record")
        author = item.get("author")
        if not isinstance(record, Mapping) or record.get("$type", "app.bsky.feed.post") not in POST_TYPES:
            raise SkippableError("post deleted or its record is missing", external_id=uri)
        if not isinstance(author, Mapping) or not author.get("did") or not author.get("handle"):
            raise SkippableError("post has no author", external_id=uri)
        if not isinstance(record.get("text"), str) or not record.get("createdAt"):
            raise SkippableError("post record has no text or creation time", external_id=uri)
        is_brand = author["did"] == self.config.account_did
        replyable = self.config.source == "notifications" and not is_brand
        reply_field = record.get("reply")
        reply: Mapping[str, Any] = reply_field if isinstance(reply_field, Mapping) else {}
        langs = record.get("langs") or []
        return Mention(
            platform=self.platform,
            external_id=uri,
            text=clean_text(record["text"]),
            created_at=_parse_time(record["createdAt"], uri),
            author=_author(author),
            url=_web_url(uri, _profile_key(author)),
            language=str(langs[0]).split("-")[0].lower() if langs else None,
            conversation_id=_ref_uri(reply, "root") or uri,
            in_reply_to_id=_ref_uri(reply, "parent"),
            metrics=_metrics(item),
            replyable=replyable,
            replyable_reason=_reason(is_brand, replyable),
            is_brand_post=is_brand,
            raw=stamp_payload(item, url=self._endpoint_url(), retrieved_at=retrieved_at),
            fetched_at=retrieved_at,
        )

    def _with_followers(self, mentions: list[Mention]) -> list[Mention]:
        """Set each author's follower count, looking up the ones not cached (25 per request).

        Post views and notifications describe authors without ``followersCount``, so reach would
        read 0 for everyone.  ``app.bsky.actor.getProfiles`` has the counts; they change slowly,
        so they are cached for :data:`FOLLOWERS_TTL_S`.  A failed lookup costs no mention: it is
        logged and the counts stay 0 until the next page tries again.
        """
        for m in mentions:  # an author view that does carry the count needs no lookup
            counted = _given_followers(m)
            if m.author is not None and counted is not None:
                self._followers.put(m.author.external_id, counted)
        wanted = sorted({m.author.external_id for m in mentions if m.author} - self._followers.known())
        for start in range(0, len(wanted), PROFILE_BATCH):
            chunk = wanted[start : start + PROFILE_BATCH]
            try:
                response = self._call(functools.partial(self._profiles, chunk))
            except ConnectorError as exc:
                log.warning("bluesky: follower lookup for %d authors failed (%s); counts left at 0", len(chunk), exc)
                break
            found = {p.did: int(p.followers_count or 0) for p in response.profiles}
            for did in chunk:  # an actor getProfiles leaves out (deleted, taken down) has no followers to count
                self._followers.put(did, found.get(did, 0))
        return [_with_follower_count(m, self._followers.get(m.author.external_id)) if m.author else m for m in mentions]

    def _profiles(self, actors: list[str]) -> models.AppBskyActorGetProfiles.Response:
        return self.client.app.bsky.actor.get_profiles(params={"actors": actors})

    def _endpoint_url(self) -> str:
        nsid = NOTIFICATIONS if self.config.source == "notifications" else SEARCH
        return f"{self.config.base_url.rstrip('/')}/xrpc/{nsid}"

    # --- replying ------------------------------------------------------------------------------

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Post ``text`` threaded under ``to`` (reply ref: the thread root and the parent)."""
        if not to.replyable:
            raise FatalError(f"cannot reply to Bluesky post {to.external_id}: {to.replyable_reason}")
        ref = _reply_ref(to)
        langs = [to.language] if to.language else None
        created = self._call(
            lambda: self.client.send_post(
                text=text, reply_to=ref, profile_identify=self.config.account_did, langs=langs
            )
        )
        log.info("bluesky: posted reply %s for %s (key %s)", created.uri, to.external_id, idempotency_key)
        return PostedReply(
            external_id=created.uri,
            url=_web_url(created.uri, self.config.handle),
            posted_at=datetime.now(UTC),
        )

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        """Look for our reply among the direct replies to ``to`` (used after a crash mid-send)."""
        params = models.AppBskyFeedGetPostThread.Params(uri=to.external_id, depth=1, parent_height=0)
        response = self._call(lambda: self.client.invoke_query("app.bsky.feed.getPostThread", params=params))
        thread = response.content.get("thread") if isinstance(response.content, Mapping) else None
        wanted = " ".join(text.split())
        for child in (thread or {}).get("replies") or []:
            post = child.get("post") or {}
            record = post.get("record") or {}
            if (post.get("author") or {}).get("did") == self.config.account_did and " ".join(
                str(record.get("text", "")).split()
            ) == wanted:
                return PostedReply(
                    external_id=post["uri"],
                    url=_web_url(post["uri"], self.config.handle),
                    posted_at=_parse_time(record.get("createdAt"), post["uri"]),
                )
        return None

    # --- errors --------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Log in on first use, then run ``fn`` with rate-limit waits, backoff and error mapping."""

        def attempt() -> T:
            try:
                if not self._logged_in:
                    self.client.login(self.config.handle, self.config.app_password, fetch_bsky_profile=False)
                    self._logged_in = True
                return fn()
            except AtNetworkError as exc:
                if exc.response is None:  # transport failure: no status to look up
                    raise RetriableError(f"could not connect to Bluesky: {exc!r}") from exc
                raise

        return call_with_retries(
            attempt,
            classify_error=lambda exc, now: classify(exc, service="Bluesky", hints=_HINTS, now=now),
            waiter=self._waiter,
            policy=RetryPolicy(attempts=self.config.attempts),
        )


_HINTS = {
    401: "the handle or app password was refused, or the session expired; create a new app password",
    403: "the account may be suspended or the app password lacks access; check the account",
}


def _ts(value: str) -> float:
    try:
        return _parse_time(value, "").timestamp()
    except SkippableError:
        return 0.0


def _parse_time(value: Any, external_id: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as exc:
        raise SkippableError(f"unreadable time {value!r}", external_id=external_id) from exc


class _FollowerCache:
    """Follower counts by DID, each kept for ``ttl_s``; the oldest go first beyond ``max_size``."""

    def __init__(self, ttl_s: float, max_size: int, *, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, did: str) -> int | None:
        entry = self._entries.get(did)
        if entry is None:
            return None
        if self._clock() - entry[1] > self._ttl_s:
            del self._entries[did]
            return None
        return entry[0]

    def put(self, did: str, followers: int) -> None:
        self._entries[did] = (followers, self._clock())
        self._entries.move_to_end(did)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def known(self) -> set[str]:
        return {did for did in list(self._entries) if self.get(did) is not None}


def _given_followers(mention: Mention) -> int | None:
    data = mention.raw.get("data")
    author = data.get("author") if isinstance(data, Mapping) else None
    count = author.get("followersCount") if isinstance(author, Mapping) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _with_follower_count(mention: Mention, followers: int | None) -> Mention:
    if mention.author is None or followers is None or followers == mention.author.followers:
        return mention
    return replace(mention, author=replace(mention.author, followers=followers))


def _profile_key(author: Mapping[str, Any]) -> str:
    """The handle for a profile link, or the DID when the handle does not resolve (``handle.invalid``)."""
    handle = str(author.get("handle") or "")
    return str(author["did"]) if not handle or handle == INVALID_HANDLE else handle


def _author(author: Mapping[str, Any]) -> Author:
    return Author(
        platform=Platform.BLUESKY.value,
        external_id=str(author["did"]),
        handle=str(author["handle"]),
        display_name=clean_text(str(author.get("displayName") or "")) or None,
        followers=int(author.get("followersCount") or 0),
        verified=(author.get("verification") or {}).get("verifiedStatus") == "valid",
    )


def _metrics(item: Mapping[str, Any]) -> Metrics:
    return Metrics(
        likes=int(item.get("likeCount") or 0),
        reposts=int(item.get("repostCount") or 0),
        replies=int(item.get("replyCount") or 0),
        quotes=int(item.get("quoteCount") or 0),
    )


def _reason(is_brand: bool, replyable: bool) -> str:
    if is_brand:
        return REASON_BRAND_POST
    return REASON_REPLYABLE if replyable else REASON_LISTEN_ONLY


def _ref_uri(reply: Mapping[str, Any], key: str) -> str | None:
    ref = reply.get(key)
    return str(ref["uri"]) if isinstance(ref, Mapping) and ref.get("uri") else None


def _web_url(uri: str, handle: str) -> str:
    rkey = uri.rsplit("/", 1)[-1]
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def _reply_ref(to: Mention) -> models.AppBskyFeedPost.ReplyRef:
    """Build root + parent strong refs from the stored payload (a reply needs both CIDs)."""
    data = to.raw.get("data", {}) if isinstance(to.raw, Mapping) else {}
    cid = data.get("cid") if isinstance(data, Mapping) else None
    if not cid:
        raise FatalError(f"cannot reply to {to.external_id}: the stored payload has no CID")
    parent = models.ComAtprotoRepoStrongRef.Main(uri=to.external_id, cid=str(cid))
    root_ref = ((data.get("record") or {}).get("reply") or {}).get("root")
    root = (
        models.ComAtprotoRepoStrongRef.Main(uri=str(root_ref["uri"]), cid=str(root_ref["cid"]))
        if isinstance(root_ref, Mapping) and root_ref.get("uri") and root_ref.get("cid")
        else parent
    )
    return models.AppBskyFeedPost.ReplyRef(root=root, parent=parent)
