"""The X connector: mention timeline and recent search in, replies out, through ``tweepy.Client``.

tweepy is used with ``wait_on_rate_limit=False`` (we wait through an injectable sleeper, capped
and logged, instead of tweepy's hidden ``time.sleep``) and ``return_type=requests.Response`` (we
need the rate-limit headers of successful responses and the request URL for provenance).
"""

from __future__ import annotations

import functools
import html
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import requests
import tweepy

from connectors.base import (
    Batch,
    BudgetExhaustedError,
    ConnectorError,
    FatalError,
    Mention,
    Platform,
    PostedReply,
)
from connectors.errors import Action, ErrorRule, RateLimitedError, classify
from connectors.paging import TokenPaginator
from connectors.rate_limit import Clock, RateLimitWaiter, RetryPolicy, Sleeper, call_with_retries
from connectors.read_budget import ReadBudget
from connectors.x.config import XConfig
from connectors.x.cursor import XCursor
from connectors.x.mapping import MappedPage, PageContext, apply_users, map_page, post_url

log = logging.getLogger(__name__)

TWEET_FIELDS: Final = (
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
    "public_metrics",
    "entities",
    "author_id",
    "note_tweet",
)
USER_FIELDS: Final = ("username", "name", "public_metrics", "verified")
EXPANSIONS: Final = ("author_id", "referenced_tweets.id", "referenced_tweets.id.author_id")
MIN_PAGE: Final = 10
"""The smallest ``max_results`` both X endpoints accept."""
FIND_REPLY_PAGES: Final = 5
USER_LOOKUP_BATCH: Final = 100
"""Most ids ``GET /2/users`` takes in one request."""

_READ_HINTS: Final = {
    401: "check the bearer token",
    403: "check the app's access level and that the project may use this endpoint",
}
_REPLY_HINTS: Final = {
    401: "check the consumer key/secret and the access token/secret of the brand account",
}
# A 403 on a reply is usually about that one post (not mentioned by its author, duplicate text):
# it fails the reply, it does not mark the whole source unhealthy.
_REPLY_OVERRIDES: Final = {403: ErrorRule(Action.FATAL, "{service} refused the reply")}


class _TimeoutSession(requests.Session):
    """tweepy sends no timeout; a hung connection would stall the worker forever."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.timeout_s
        return super().request(method, url, *args, **kwargs)


class _RedactAuthorization(logging.Filter):
    """tweepy logs request headers, bearer token included, at DEBUG; blank it out."""

    _pattern = re.compile(r"(Bearer\s+)[^'\"\s,}]+|('Authorization':\s*')[^']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and ("Bearer" in record.msg or "Authorization" in record.msg):
            record.msg = self._pattern.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", record.msg)
        return True


def _install_redaction() -> None:
    logger = logging.getLogger("tweepy.client")
    if not any(isinstance(f, _RedactAuthorization) for f in logger.filters):
        logger.addFilter(_RedactAuthorization())


class XConnector:
    """One X source (mention timeline or recent search), plus replies as the brand account.

    Args:
        config: The source's settings and credentials.
        budget: The monthly read cap; with ``reads_used``, ``fetch`` stops at the cap.
        reads_used: Returns the reads this month has used so far (storage counts them).
        sleeper: Called with seconds to sleep for rate limits and backoffs.
        clock: Returns the current Unix time.
        retry_policy: Attempts and backoff for retriable errors.
        timeout_s: Per-request network timeout.
    """

    platform: ClassVar[str] = Platform.X.value

    def __init__(
        self,
        config: XConfig,
        *,
        budget: ReadBudget | None = None,
        reads_used: Callable[[], int] | None = None,
        sleeper: Sleeper = time.sleep,
        clock: Clock = time.time,
        retry_policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.config = config
        self.budget = budget
        self._reads_used = reads_used
        self._clock = clock
        self._policy = retry_policy or RetryPolicy()
        self._waiter = RateLimitWaiter(sleeper=sleeper, clock=clock)
        self._seen_tokens: set[str] = set()
        self._client = tweepy.Client(
            bearer_token=config.bearer_token.get_secret_value(),
            consumer_key=_secret(config.consumer_key),
            consumer_secret=_secret(config.consumer_secret),
            access_token=_secret(config.access_token),
            access_token_secret=_secret(config.access_token_secret),
            return_type=requests.Response,
            wait_on_rate_limit=False,
        )
        self._client.session = _TimeoutSession(timeout_s)
        _install_redaction()

    # --- reading -------------------------------------------------------------------------------

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Fetch one page after ``cursor``; the returned cursor resumes mid-pagination after a crash.

        Raises:
            BudgetExhaustedError: The monthly read cap is reached.
            AuthError: X refused the credentials (401/403).
            RetriableError: Rate limited or failing after the configured attempts.
            PaginationLoopError: X returned a page token twice.
        """
        state = XCursor.decode(cursor)
        if state.pagination_token is None:
            self._seen_tokens.clear()
        page_size = self._page_size(limit)
        paginator = TokenPaginator(state.pagination_token, service="X", seen=self._seen_tokens)
        response, payload = self._read_page(state, page_size)
        mapped = map_page(payload, self._page_context(response.url))
        mentions, looked_up = self._fill_unknown_authors(mapped)
        next_token = _next_token(payload)
        paginator.advance(next_token)
        if next_token:
            self._seen_tokens.add(next_token)
        next_state = state.after_page(newest_on_page=mapped.newest_id, next_token=next_token)
        reads = mapped.reads + looked_up
        self._log_reads(reads)
        return Batch(
            mentions=mentions,
            next_cursor=next_state.encode(),
            has_more=next_token is not None,
            reads=reads,
            skipped=mapped.skipped,
        )

    def _page_size(self, limit: int) -> int:
        wanted = max(MIN_PAGE, min(limit, self.config.max_results))
        if self.budget is None or self._reads_used is None:
            return wanted
        used = self._reads_used()
        allowed = self.budget.allowance(used, wanted)
        if allowed < MIN_PAGE:
            raise BudgetExhaustedError(
                f"X monthly read cap nearly reached: {allowed} reads left of {self.budget.monthly_cap:,}, "
                f"fewer than the smallest page X serves ({MIN_PAGE}). Fetching is paused until next month "
                "or until the cap is raised in the config."
            )
        return allowed

    def _read_page(self, state: XCursor, page_size: int) -> tuple[requests.Response, dict[str, Any]]:
        endpoint = self.config.source
        params: dict[str, Any] = {
            "max_results": page_size,
            "tweet_fields": list(TWEET_FIELDS),
            "user_fields": list(USER_FIELDS),
            "expansions": list(EXPANSIONS),
        }
        if state.since_id:
            params["since_id"] = state.since_id
        if endpoint == "mentions":
            call = functools.partial(self._client.get_users_mentions, self.config.brand_user_id, **params)
            page_param = "pagination_token"
        else:
            call = functools.partial(self._client.search_recent_tweets, self.config.search_query(), **params)
            page_param = "next_token"

        def attempt() -> tuple[requests.Response, dict[str, Any]]:
            self._waiter.before_request(endpoint)
            extra = {page_param: state.pagination_token} if state.pagination_token else {}
            response = call(**extra)
            self._waiter.observe(endpoint, response.headers)
            payload = response.json()
            if not isinstance(payload, dict):
                raise TypeError(f"X answered with a JSON {type(payload).__name__}, not an object")
            return response, payload

        return self._call(attempt, hints=_READ_HINTS)

    def _fill_unknown_authors(self, mapped: MappedPage) -> tuple[list[Mention], int]:
        """Look up authors X did not describe (batches of 100); return the mentions and the users read.

        A failed lookup loses nothing: the posts keep their ``"unknown"`` authors and the next
        delivery or lookup fills them in.
        """
        ids = mapped.unknown_author_ids
        if not ids:
            return mapped.mentions, 0
        users: list[Any] = []
        try:
            for start in range(0, len(ids), USER_LOOKUP_BATCH):
                chunk = ids[start : start + USER_LOOKUP_BATCH]
                payload = self._call(functools.partial(self._users_json, chunk), hints=_READ_HINTS)
                users += [u for u in payload.get("data") or [] if isinstance(u, dict)]
        except ConnectorError as exc:
            log.warning("X author lookup for %d users failed (%s); their posts keep unknown authors", len(ids), exc)
        return apply_users(mapped.mentions, users), len(users)

    def _users_json(self, ids: list[str]) -> dict[str, Any]:
        response = self._client.get_users(ids=ids, user_fields=list(USER_FIELDS))
        payload = response.json()
        return payload if isinstance(payload, dict) else {}

    def _page_context(self, url: str) -> PageContext:
        return PageContext(
            brand_ids=self.config.brand_ids,
            brand_handle=self.config.brand_handle,
            listen_only=self.config.source == "search",
            url=url,
            retrieved_at=datetime.fromtimestamp(self._clock(), UTC),
        )

    def _log_reads(self, reads: int) -> None:
        if self.budget is None:
            log.info("X %s: %d posts read", self.config.source, reads)
            return
        log.info("X %s: %d posts read (about %s)", self.config.source, reads, self.budget.format_cost(reads))

    # --- replying ------------------------------------------------------------------------------

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Post ``text`` as the brand, in reply to ``to``.

        Only a rate limit is retried here: after a 5xx or a timeout X may have accepted the post,
        so the error goes back to the outbox, which calls :meth:`find_reply` before sending again.
        X has no idempotency header; ``idempotency_key`` is logged to tie the post to the outbox row.
        """
        self._check_replyable(to, text)
        response = self._call(
            lambda: self._client.create_tweet(text=text, in_reply_to_tweet_id=to.external_id, user_auth=True),
            hints=_REPLY_HINTS,
            overrides=_REPLY_OVERRIDES,
            retry_on=(RateLimitedError,),
        )
        data = response.json().get("data") or {}
        if not data.get("id"):
            raise FatalError("X accepted the reply but returned no post id; check the thread before resending")
        log.info("X reply %s posted to %s (outbox key %s)", data["id"], to.external_id, idempotency_key)
        return PostedReply(
            external_id=str(data["id"]),
            url=post_url(self.config.brand_handle, str(data["id"])),
            posted_at=datetime.fromtimestamp(self._clock(), UTC),
        )

    def find_reply(self, to: Mention, *, text: str, idempotency_key: str | None = None) -> PostedReply | None:
        """Look in ``to``'s conversation for a brand reply to it with ``text``; ``None`` if absent.

        The outbox calls this before re-sending a reply left in ``sending`` after a crash.  It uses
        recent search (the last 7 days), so an older or not-yet-indexed reply is not found.
        """
        conversation = to.conversation_id or to.external_id
        query = f"conversation_id:{conversation} from:{self.config.brand_handle}"
        paginator = TokenPaginator(service="X")
        while paginator.has_more and paginator.count < FIND_REPLY_PAGES:
            token = paginator.current_value
            payload = self._call(functools.partial(self._search_json, query, token), hints=_READ_HINTS)
            found = _matching_reply(payload, to, text, self.config)
            if found is not None:
                log.info(
                    "found X reply %s to %s (outbox key %s)",
                    found.external_id,
                    to.external_id,
                    idempotency_key,
                )
                return found
            paginator.advance(_next_token(payload))
        return None

    def _search_json(self, query: str, token: str | None) -> dict[str, Any]:
        extra = {"next_token": token} if token else {}
        response = self._client.search_recent_tweets(
            query, max_results=100, tweet_fields=["created_at", "referenced_tweets", "author_id"], **extra
        )
        payload = response.json()
        return payload if isinstance(payload, dict) else {}

    def _check_replyable(self, to: Mention, text: str) -> None:
        if to.platform != self.platform:
            raise FatalError(f"cannot reply on X to a {to.platform} post")
        if not self.config.can_reply:
            raise FatalError("replying on X needs the brand account's user-context keys; none are configured")
        if not to.replyable:
            raise FatalError(f"this post cannot be answered on X: {to.replyable_reason}")
        if not text.strip():
            raise FatalError("the reply is empty")

    def _call(
        self,
        fn: Callable[[], Any],
        *,
        hints: Mapping[int, str],
        overrides: Mapping[int, ErrorRule] | None = None,
        retry_on: tuple[type[ConnectorError], ...] | None = None,
    ) -> Any:
        def classify_error(exc: BaseException, now: float) -> ConnectorError:
            return classify(exc, service="X", hints=hints, overrides=overrides, now=now)

        kwargs: dict[str, Any] = {"retry_on": retry_on} if retry_on else {}
        return call_with_retries(fn, classify_error=classify_error, waiter=self._waiter, policy=self._policy, **kwargs)


def _matching_reply(payload: Mapping[str, Any], to: Mention, text: str, config: XConfig) -> PostedReply | None:
    wanted = normalise_reply_text(text)
    for post in payload.get("data") or []:
        if not isinstance(post, dict) or str(post.get("author_id")) not in config.brand_ids:
            continue
        replied_to = [r.get("id") for r in post.get("referenced_tweets") or [] if r.get("type") == "replied_to"]
        if to.external_id in replied_to and normalise_reply_text(str(post.get("text", ""))) == wanted:
            created = post.get("created_at")
            posted_at = datetime.fromisoformat(created) if isinstance(created, str) else datetime.now(UTC)
            return PostedReply(
                external_id=str(post["id"]),
                url=post_url(config.brand_handle, str(post["id"])),
                posted_at=posted_at,
            )
    return None


_URL: Final = re.compile(r"https?://\S+")
_LEADING_MENTIONS: Final = re.compile(r"^(?:@\w+\s+)+")


def normalise_reply_text(text: str) -> str:
    """Text as X would echo it back: entities unescaped, links (t.co-shortened) and leading @s ignored."""
    flat = unicodedata.normalize("NFC", html.unescape(text))
    flat = _URL.sub("<link>", flat)
    flat = _LEADING_MENTIONS.sub("", " ".join(flat.split()))
    return flat


def _next_token(payload: Mapping[str, Any]) -> str | None:
    meta = payload.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
