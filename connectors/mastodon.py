"""Mastodon through Mastodon.py: mention notifications (replyable) and hashtag timelines (listen-only).

Paging walks forward with ``min_id``: each call returns the page of items just newer than the
cursor, so a poll never leaves a gap however many items arrived meanwhile.  The cursor is the
newest item id seen (a notification id for mentions, a status id for hashtags).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNetworkError, MastodonRatelimitError

from connectors.base import (
    MAPPING_ERRORS,
    REASON_BRAND_POST,
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
    utc,
)
from connectors.errors import Action, ErrorRule, RateLimitedError, classify, error_for_status
from connectors.ids import fit_for_storage
from connectors.rate_limit import RateLimitWaiter, RetryPolicy, Sleeper, call_with_retries
from connectors.text import clean_text, html_to_text

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class MastodonConfig:
    """One Mastodon source.  ``access_token`` is passed in by the caller, never read from a file."""

    instance_url: str
    access_token: str
    account_id: str
    """The brand account's id on this instance: its posts are the brand's, never inbound."""
    source: Literal["mentions", "hashtag"] = "mentions"
    hashtag: str | None = None
    resolve_thread_roots: bool = True
    """Look up the thread root of replies (one extra request each) so threads group correctly."""
    max_rate_limit_wait: float = 5 * 60 + 5
    """Longest single rate-limit wait; Mastodon's windows are 5 minutes long."""
    attempts: int = 4
    """Tries per request, rate-limit waits included, before a ``RetriableError`` reaches the worker."""
    request_timeout: float = 30.0


class MastodonConnector:
    """Pull mentions from one Mastodon account or hashtag and post replies as that account."""

    platform: ClassVar[str] = Platform.MASTODON.value

    def __init__(self, config: MastodonConfig, *, sleep: Sleeper | None = None, api: Mastodon | None = None) -> None:
        if config.source == "hashtag" and not config.hashtag:
            raise FatalError("Mastodon hashtag source needs a hashtag")
        self.config = config
        self._waiter = RateLimitWaiter(
            sleeper=sleep if sleep is not None else time.sleep, max_wait_s=config.max_rate_limit_wait
        )
        self.api = api or Mastodon(
            api_base_url=config.instance_url,
            access_token=config.access_token,
            ratelimit_method="throw",
            request_timeout=config.request_timeout,
            version_check_mode="none",
        )

    # --- fetching ------------------------------------------------------------------------------

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """Return the page of items just newer than ``cursor`` (the newest page when ``None``)."""
        limit = max(1, min(limit, 40))  # Mastodon caps pages at 40 (80 for some endpoints)
        items = self._call(lambda: self._list(cursor, limit))
        retrieved_at = datetime.now(UTC)
        mentions: list[Mention] = []
        skipped: list[SkippedItem] = []
        seen: set[str] = set()
        for item in sorted(items, key=lambda i: _id_key(i.get("id"))):
            try:
                mention = self._to_mention(_plain(item), retrieved_at)
            except MAPPING_ERRORS as caught:
                exc = skippable(caught, item)
                log.warning("mastodon: skipped item %s: %s", exc.external_id, exc)
                skipped.append(SkippedItem(exc.external_id, str(exc)))
                continue
            if mention.external_id in seen:
                continue
            seen.add(mention.external_id)
            mentions.append(mention)
        ids = [str(i["id"]) for i in items if i.get("id") is not None]
        newest = max(ids, key=_id_key) if ids else cursor
        return Batch(
            mentions,
            newest,
            has_more=cursor is not None and len(items) >= limit,
            reads=len(items),
            skipped=skipped,
        )

    def _list(self, cursor: str | None, limit: int) -> list[Any]:
        if self.config.source == "hashtag":
            tag = (self.config.hashtag or "").lstrip("#")
            return list(self.api.timeline_hashtag(tag, min_id=cursor, limit=limit))
        return list(self.api.notifications(types=["mention"], min_id=cursor, limit=limit))

    def _to_mention(self, item: Mapping[str, Any], retrieved_at: datetime) -> Mention:
        item_id = str(item.get("id")) if item.get("id") is not None else None
        status = item.get("status") if self.config.source == "mentions" else item
        if not isinstance(status, Mapping):
            raise SkippableError("post deleted or missing from the notification", external_id=item_id)
        status_id = status.get("id")
        account = status.get("account")
        if not status_id or not status.get("created_at"):
            raise SkippableError("post has no id or creation time", external_id=item_id)
        if not isinstance(account, Mapping) or not account.get("id"):
            raise SkippableError("post has no author", external_id=str(status_id))
        author = _author(account)
        is_brand = author.external_id == str(self.config.account_id)
        replyable = self.config.source == "mentions" and not is_brand
        in_reply_to = _str_or_none(status.get("in_reply_to_id"))
        mention = Mention(
            platform=self.platform,
            external_id=str(status_id),
            text=clean_text(html_to_text(str(status.get("content") or ""))),
            created_at=_parse_time(status["created_at"], str(status_id)),
            author=author,
            url=status.get("url") or status.get("uri"),
            language=status.get("language"),
            conversation_id=self._thread_root(str(status_id), in_reply_to),
            in_reply_to_id=in_reply_to,
            metrics=Metrics(
                likes=int(status.get("favourites_count") or 0),
                reposts=int(status.get("reblogs_count") or 0),
                replies=int(status.get("replies_count") or 0),
            ),
            replyable=replyable,
            replyable_reason=_reason(is_brand, replyable),
            is_brand_post=is_brand,
            raw=stamp_payload(item, url=self._endpoint_url(), retrieved_at=retrieved_at),
            fetched_at=retrieved_at,
        )
        return fit_for_storage(mention)

    def _endpoint_url(self) -> str:
        base = f"{self.config.instance_url.rstrip('/')}/api/v1"
        if self.config.source == "mentions":
            return f"{base}/notifications"
        return f"{base}/timelines/tag/{(self.config.hashtag or '').lstrip('#')}"

    def _thread_root(self, status_id: str, in_reply_to: str | None) -> str:
        """Mastodon statuses carry only their parent; the root comes from the context endpoint."""
        if in_reply_to is None or not self.config.resolve_thread_roots:
            return status_id if in_reply_to is None else in_reply_to
        try:
            context = self._call(lambda: self.api.status_context(status_id))
        except AuthError:
            raise
        except (RetriableError, FatalError) as exc:
            log.info("mastodon: no thread root for %s (%s); using its parent", status_id, exc)
            return in_reply_to
        ancestors = list(context.get("ancestors") or [])
        return str(ancestors[0]["id"]) if ancestors else in_reply_to

    # --- replying ------------------------------------------------------------------------------

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Reply with the original's visibility; the server de-duplicates on ``idempotency_key``."""
        if not to.replyable:
            raise FatalError(f"cannot reply to Mastodon post {to.external_id}: {to.replyable_reason}")
        body = self._addressed(to, text)
        status = self._call(
            lambda: self.api.status_post(
                body,
                in_reply_to_id=to.external_id,
                visibility=_visibility(to),
                idempotency_key=idempotency_key,
            )
        )
        return _posted(status)

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        """Find our reply to ``to`` among its descendants (used after a crash mid-send)."""
        context = self._call(lambda: self.api.status_context(to.external_id))
        wanted = _normalise(self._addressed(to, text))
        for status in context.get("descendants") or []:
            account = status.get("account") or {}
            if (
                str(account.get("id")) == str(self.config.account_id)
                and str(status.get("in_reply_to_id")) == to.external_id
                and _normalise(html_to_text(str(status.get("content") or ""))) == wanted
            ):
                return _posted(status)
        return None

    @staticmethod
    def _addressed(to: Mention, text: str) -> str:
        """Mastodon only notifies accounts named in the text, so address the author."""
        handle = to.author.handle if to.author else ""
        if handle and f"@{handle}".lower() not in text.lower():
            return f"@{handle} {text}"
        return text

    # --- errors --------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one API call: wait out rate limits, back off on 5xx, map errors to families."""
        return call_with_retries(
            lambda: self._mapped(fn),
            classify_error=lambda exc, now: classify(exc, service="Mastodon", hints=_HINTS, now=now),
            waiter=self._waiter,
            policy=RetryPolicy(attempts=self.config.attempts),
        )

    def _mapped(self, fn: Callable[[], T]) -> T:
        """Mastodon.py keeps the status in ``args`` and the reset time on the client; use both."""
        try:
            return fn()
        except MastodonRatelimitError as exc:
            reset_at = float(self.api.ratelimit_reset) if self.api.ratelimit_reset else None
            now = self._waiter.clock()
            raise RateLimitedError("Mastodon rate limit reached (429)", reset_at=reset_at, now=now) from exc
        except MastodonNetworkError as exc:
            raise RetriableError(f"could not connect to Mastodon: {exc}") from exc
        except MastodonAPIError as exc:
            args: tuple[Any, ...] = exc.args
            if len(args) < 2 or not isinstance(args[1], int):
                raise FatalError(f"Mastodon answered in a way we could not read: {exc}") from exc
            raise error_for_status(
                args[1],
                service="Mastodon",
                reason=str(args[2]) if len(args) > 2 and args[2] else None,
                detail=str(args[3]) if len(args) > 3 and args[3] else None,
                hints=_HINTS,
                overrides=_OVERRIDES,
            ) from exc


_HINTS = {
    401: "the access token was revoked or has expired; create a new one and update the source",
    403: "check that the token has the read:notifications, read:statuses and write:statuses scopes",
}
_OVERRIDES = {404: ErrorRule(Action.FATAL, "{service} says the account, post or timeline does not exist")}


# --- helpers -------------------------------------------------------------------------------------


def _id_key(value: Any) -> tuple[int, str]:
    text = str(value or "")
    return (int(text), text) if text.isdigit() else (-1, text)


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _plain(obj: Any) -> Any:
    """Turn Mastodon.py's attribute dicts and datetimes back into JSON-ready values."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return utc(obj).isoformat()
    return obj


def _parse_time(value: Any, external_id: str) -> datetime:
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SkippableError(f"unreadable creation time {value!r}", external_id=external_id) from exc
    return utc(parsed)


def _author(account: Mapping[str, Any]) -> Author:
    return Author(
        platform=Platform.MASTODON.value,
        external_id=str(account["id"]),
        handle=str(account.get("acct") or account.get("username") or account["id"]),
        display_name=clean_text(str(account.get("display_name") or "")) or None,
        followers=int(account.get("followers_count") or 0),
        verified=False,
    )


def _reason(is_brand: bool, replyable: bool) -> str:
    if is_brand:
        return REASON_BRAND_POST
    return REASON_REPLYABLE if replyable else REASON_LISTEN_ONLY


def _visibility(to: Mention) -> str:
    data = to.raw.get("data", {}) if isinstance(to.raw, Mapping) else {}
    status = data.get("status", data) if isinstance(data, Mapping) else {}
    visibility = status.get("visibility") if isinstance(status, Mapping) else None
    return str(visibility) if visibility in {"public", "unlisted", "private", "direct"} else "public"


def _posted(status: Mapping[str, Any]) -> PostedReply:
    created = status.get("created_at")
    posted_at = utc(created) if isinstance(created, datetime) else datetime.now(UTC)
    return PostedReply(external_id=str(status["id"]), url=status.get("url"), posted_at=posted_at)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()
