"""Reddit through praw: username mentions (replyable), subreddit posts and keyword search (listen-only).

Listings are read as raw JSON through ``praw.Reddit.request`` (praw's OAuth, rate limiting and
errors, without turning each item into a lazy model) so a malformed item is skipped on its own.
Paging walks forward with ``before=<fullname of the newest item seen>``: each call returns the
items just newer than the cursor, newest first, so a poll never leaves a gap.

prawcore sleeps on its own (``time.sleep``) for rate-limit pacing and 5xx retries.  Both are
routed through the injectable sleeper here: its pacing sleeps use ours, and its retries are
switched off so 5xx backoff happens once, in :func:`connectors.rate_limit.call_with_retries`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

import praw
import prawcore
from praw.exceptions import RedditAPIException
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import FiniteRetryStrategy

from connectors.base import (
    MAPPING_ERRORS,
    REASON_BRAND_POST,
    REASON_DELETED_AUTHOR,
    REASON_LISTEN_ONLY,
    REASON_REPLYABLE,
    AuthError,
    Author,
    Batch,
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
    with_notes,
)
from connectors.errors import classify
from connectors.ids import fit_for_storage
from connectors.rate_limit import RateLimitWaiter, RetryPolicy, Sleeper, call_with_retries
from connectors.text import clean_text

log = logging.getLogger(__name__)
T = TypeVar("T")
DELETED = {"[deleted]", "[removed]"}
DELETED_AUTHOR_ID = "deleted"
"""Stable author id for every post whose author deleted their account (Reddit keeps no id for them)."""


@dataclass(frozen=True)
class RedditConfig:
    """One Reddit source (a script app).  Secrets are passed in, never read from files."""

    client_id: str
    client_secret: str
    username: str
    """The brand account: its posts are the brand's, and mentions are of this name."""
    password: str
    user_agent: str = "mentiondesk/0.1 (social listening)"
    source: Literal["mentions", "subreddit", "search"] = "mentions"
    subreddit: str | None = None
    query: str | None = None
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    attempts: int = 4
    max_rate_limit_wait: float = 10 * 60.0


class RedditConnector:
    """Pull Reddit mentions or listings and reply to mentions as the brand account."""

    platform: ClassVar[str] = Platform.REDDIT.value

    def __init__(self, config: RedditConfig, *, sleep: Sleeper | None = None) -> None:
        if config.source == "subreddit" and not config.subreddit:
            raise FatalError("a Reddit subreddit source needs a subreddit")
        if config.source == "search" and not (config.query or "").strip():
            raise FatalError("a Reddit search source needs a query")
        self.config = config
        sleeper = sleep if sleep is not None else time.sleep
        self._waiter = RateLimitWaiter(sleeper=sleeper, max_wait_s=config.max_rate_limit_wait)
        self.reddit = praw.Reddit(
            client_id=config.client_id,
            client_secret=config.client_secret,
            username=config.username,
            password=config.password,
            user_agent=config.user_agent,
            oauth_url=config.oauth_url,
            reddit_url=config.reddit_url,
            check_for_updates=False,
            ratelimit_seconds=0,
        )
        self._limiter = _InjectedRateLimiter(sleeper)
        for name in ("_authorized_core", "_read_only_core"):  # prawcore Sessions: use our sleeps
            core: Any = getattr(self.reddit, name, None)
            if core is not None:
                core._rate_limiter = self._limiter
                core._retry_strategy_class = _NoRetry

    # --- fetching ------------------------------------------------------------------------------

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Return the items just newer than ``cursor`` (a fullname); the newest page at first."""
        limit = max(1, min(limit, 100))
        path, params = self._listing()
        params.update(limit=limit, raw_json=1)
        if cursor:
            params["before"] = cursor
        listing = self._call(lambda: self.reddit.request(method="GET", path=path, params=params))
        children = _children(listing)
        retrieved_at = datetime.now(UTC)
        url = f"{self.config.oauth_url.rstrip('/')}{path}"
        mentions, skipped = self._collect(children, url, retrieved_at)
        names = [str(c["data"]["name"]) for c in children if _has_name(c)]
        newest = max(names, key=_fullname_key) if names else cursor
        more = cursor is not None and len(children) >= limit
        return Batch(mentions, newest, has_more=more, reads=len(children), skipped=skipped)

    def _listing(self) -> tuple[str, dict[str, Any]]:
        if self.config.source == "mentions":
            return "/message/mentions", {}
        sub = (self.config.subreddit or "").removeprefix("r/")
        if self.config.source == "subreddit":
            return f"/r/{sub}/new", {}
        path = f"/r/{sub}/search" if sub else "/search"
        return path, {"q": self.config.query, "sort": "new", "restrict_sr": "on" if sub else "off"}

    def _collect(
        self, children: list[Any], url: str, retrieved_at: datetime
    ) -> tuple[list[Mention], list[SkippedItem]]:
        mentions: list[Mention] = []
        skipped: list[SkippedItem] = []
        seen: set[str] = set()
        for child in children:
            try:
                mention = self._to_mention(child, url, retrieved_at)
            except MAPPING_ERRORS as caught:
                exc = skippable(caught, child)
                log.warning("reddit: skipped item %s: %s", exc.external_id, exc)
                skipped.append(SkippedItem(exc.external_id, str(exc)))
                continue
            if mention.external_id not in seen:
                seen.add(mention.external_id)
                mentions.append(mention)
        return mentions, skipped

    def _to_mention(self, child: Any, url: str, retrieved_at: datetime) -> Mention:
        """Map one listing child.

        A post whose author deleted their account keeps its words (Reddit shows the author as
        ``[deleted]`` and leaves the body): it is kept under the author ``[deleted]``.  Reddit would
        still accept a reply to it, but nobody would be notified and no one can answer back, so
        it is not queued as replyable (:data:`~connectors.base.REASON_DELETED_AUTHOR`).  Only a
        post whose *text* is gone (``[deleted]``/``[removed]`` body, or removed by a moderator
        or by Reddit) is skipped.
        """
        data = child.get("data") if isinstance(child, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("name"):
            raise SkippableError("listing item has no fullname")
        name = str(data["name"])
        if data.get("removed_by_category") or str(data.get("body") or data.get("selftext") or "") in DELETED:
            raise SkippableError("post was removed or deleted", external_id=name)
        if not isinstance(data.get("created_utc"), int | float):
            raise SkippableError("post has no creation time", external_id=name)
        author = _author(data)
        deleted_author = author.external_id == DELETED_AUTHOR_ID
        is_brand = not deleted_author and author.handle.lower() == self.config.username.lower()
        is_comment = name.startswith("t1_")
        replyable = self.config.source == "mentions" and not is_brand and not deleted_author and is_comment
        raw = stamp_payload(child, url=url, retrieved_at=retrieved_at)
        score = _number(data.get("score"))
        return fit_for_storage(
            Mention(
                platform=self.platform,
                external_id=name,
                text=_text(data),
                created_at=datetime.fromtimestamp(float(data["created_utc"]), tz=UTC),
                author=author,
                url=_permalink(data),
                language=None,
                conversation_id=_thread_root(data),
                in_reply_to_id=data.get("parent_id") if is_comment else None,
                metrics=Metrics(likes=max(score, 0), replies=_replies(data, is_comment)),
                replyable=replyable,
                replyable_reason=REASON_DELETED_AUTHOR if deleted_author else _reason(is_brand, replyable),
                is_brand_post=is_brand,
                raw=with_notes(raw, score=score) if score < 0 else raw,
                fetched_at=retrieved_at,
            )
        )

    # --- replying ------------------------------------------------------------------------------

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Reply to a mention with praw's ``Comment.reply``."""
        if not to.replyable or not to.external_id.startswith("t1_"):
            raise FatalError(f"cannot reply to Reddit item {to.external_id}: {to.replyable_reason}")
        comment = self.reddit.comment(to.external_id.removeprefix("t1_"))
        posted = self._call(lambda: comment.reply(body=text))
        if posted is None:
            raise FatalError(f"Reddit did not return the reply to {to.external_id} (thread locked?)")
        log.info("reddit: posted reply %s for %s (key %s)", posted.fullname, to.external_id, idempotency_key)
        return PostedReply(
            external_id=str(posted.fullname),
            url=f"{self.config.reddit_url.rstrip('/')}{posted.permalink}" if posted.permalink else None,
            posted_at=datetime.fromtimestamp(float(posted.created_utc), tz=UTC),
        )

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        """Look for our reply among the brand account's newest comments (after a crash mid-send)."""
        path = f"/user/{self.config.username}/comments"
        listing = self._call(lambda: self.reddit.request(method="GET", path=path, params={"limit": 100, "raw_json": 1}))
        wanted = " ".join(text.split())
        for child in _children(listing):
            data = child.get("data") or {}
            if data.get("parent_id") == to.external_id and " ".join(str(data.get("body", "")).split()) == wanted:
                return PostedReply(
                    external_id=str(data["name"]),
                    url=_permalink(data),
                    posted_at=datetime.fromtimestamp(float(data.get("created_utc") or 0), tz=UTC),
                )
        return None

    # --- errors --------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run a praw call with our waits and backoff; map prawcore/praw errors to families."""

        def attempt() -> T:
            try:
                return fn()
            except prawcore.TooManyRequests:
                self._limiter.next_request_timestamp_ns = None  # our waiter sleeps for it instead
                raise
            except prawcore.OAuthException as exc:
                raise AuthError(f"Reddit refused the app's login ({exc}): {_HINTS[401]}", status=401) from exc
            except prawcore.RequestException as exc:
                raise RetriableError(f"could not connect to Reddit: {exc.original_exception!r}") from exc
            except RedditAPIException as exc:
                raise _api_error(exc) from exc

        return call_with_retries(
            attempt,
            classify_error=lambda exc, now: classify(exc, service="Reddit", hints=_HINTS, now=now),
            waiter=self._waiter,
            policy=RetryPolicy(attempts=self.config.attempts),
        )


_HINTS = {
    401: "check the script app's client id and secret and the account's username and password",
    403: "the account may be suspended, or lacks access to this subreddit or action",
}


class _InjectedRateLimiter(RateLimiter):
    """prawcore's pacing, sleeping through the connector's sleeper instead of ``time.sleep``."""

    def __init__(self, sleeper: Sleeper) -> None:
        super().__init__(window_size=600)
        self._sleeper = sleeper

    def delay(self) -> None:
        if self.next_request_timestamp_ns is None:
            return
        seconds = (self.next_request_timestamp_ns - time.monotonic_ns()) / 1e9
        if seconds > 0:
            self._sleeper(seconds)


class _NoRetry(FiniteRetryStrategy):
    """Leave retrying to the connector, whose sleeper tests can replace."""

    def should_retry_on_failure(self) -> bool:
        return False


def _api_error(exc: RedditAPIException) -> Exception:
    kinds = {item.error_type for item in exc.items}
    if "RATELIMIT" in kinds:
        return RetriableError(f"Reddit says to slow down: {exc}", retry_after=60, status=429)
    if kinds & {"THREAD_LOCKED", "DELETED_COMMENT", "TOO_OLD", "USER_BLOCKED"}:
        return FatalError(f"Reddit will not take a reply here: {exc}")
    return FatalError(f"Reddit rejected the request: {exc}")


def _children(listing: Any) -> list[Any]:
    data = listing.get("data") if isinstance(listing, Mapping) else None
    children = data.get("children") if isinstance(data, Mapping) else None
    if not isinstance(children, list):
        raise RetriableError("Reddit sent something that is not a listing")
    return children


def _has_name(child: Any) -> bool:
    return isinstance(child, Mapping) and isinstance(child.get("data"), Mapping) and bool(child["data"].get("name"))


def _fullname_key(name: str) -> int:
    """Ids are base-36 and grow over time, so the newest item has the largest id."""
    try:
        return int(name.split("_", 1)[-1], 36)
    except ValueError:
        return -1


def _author(data: Mapping[str, Any]) -> Author:
    name = data.get("author")
    if not name or str(name) in DELETED:
        return Author(Platform.REDDIT.value, DELETED_AUTHOR_ID, "[deleted]", "[deleted]")
    return Author(Platform.REDDIT.value, str(data.get("author_fullname") or name), str(name), str(name))


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _replies(data: Mapping[str, Any], is_comment: bool) -> int:
    """A submission's ``num_comments``; a comment's own direct replies, when the listing carries them.

    Comments in inbox and search listings carry their *submission's* ``num_comments`` (every
    comment in the thread), not their own; their replies are only known when Reddit nested them
    (``replies`` is then a Listing: loaded replies plus the ids a "load more" stub holds).
    Otherwise 0, as praw's ``len(comment.replies)`` is before the replies are fetched.
    """
    if not is_comment:
        return max(_number(data.get("num_comments")), 0)
    replies = data.get("replies")
    listing = replies.get("data") if isinstance(replies, Mapping) else None
    children = listing.get("children") if isinstance(listing, Mapping) else None
    count = 0
    for child in children if isinstance(children, list) else []:
        kind = child.get("kind") if isinstance(child, Mapping) else None
        more = child.get("data") if kind == "more" and isinstance(child.get("data"), Mapping) else None
        count += len(more.get("children") or []) if more is not None else int(kind == "t1")
    return count


def _text(data: Mapping[str, Any]) -> str:
    if "body" in data:
        return clean_text(str(data.get("body") or ""))
    title = clean_text(str(data.get("title") or ""))
    selftext = clean_text(str(data.get("selftext") or ""))
    return f"{title}\n\n{selftext}" if selftext else title


def _thread_root(data: Mapping[str, Any]) -> str:
    """A comment's thread is its submission (``link_id``; inbox items carry it in ``context``)."""
    if data.get("link_id"):
        return str(data["link_id"])
    context = str(data.get("context") or "")
    parts = context.split("/")
    if "comments" in parts and parts.index("comments") + 1 < len(parts):
        return f"t3_{parts[parts.index('comments') + 1]}"
    return str(data["name"])


def _permalink(data: Mapping[str, Any]) -> str | None:
    link = data.get("permalink") or data.get("context")
    return f"https://www.reddit.com{link}" if link else None


def _reason(is_brand: bool, replyable: bool) -> str:
    if is_brand:
        return REASON_BRAND_POST
    return REASON_REPLYABLE if replyable else REASON_LISTEN_ONLY
