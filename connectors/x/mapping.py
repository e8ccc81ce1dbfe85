"""X API v2 payloads -> :class:`~connectors.base.Mention` records.  Pure: no network, no clock.

One malformed post (no author, no text, an unreadable date) is skipped and logged with its id; the
rest of the page is kept.  Posts the API could not return (the ``errors`` array: deleted,
protected, suspended) are recorded as skipped too, so nothing disappears without a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from connectors.base import (
    REASON_BRAND_POST,
    REASON_REPLYABLE,
    REASON_SEARCH_ONLY,
    Author,
    Mention,
    Metrics,
    Platform,
    SkippableError,
    SkippedItem,
    stamp_payload,
    utc,
)
from connectors.text import clean_text
from connectors.x.cursor import max_id

log = logging.getLogger(__name__)

# X's codes for "no language": undetermined, no linguistic content, and the q* pseudo-languages.
_NO_LANGUAGE: Final = frozenset({"und", "zxx", "qme", "qht", "qam", "qct", "qst", "qdm"})


@dataclass(frozen=True, slots=True)
class PageContext:
    """What the mapping needs to know about the source and the request."""

    brand_ids: frozenset[str]
    brand_handle: str
    listen_only: bool
    url: str
    retrieved_at: datetime


@dataclass(frozen=True, slots=True)
class MappedPage:
    """One page mapped: the kept mentions, what was skipped, and what X billed."""

    mentions: list[Mention]
    skipped: list[SkippedItem]
    reads: int
    newest_id: str | None


def post_url(username: str, post_id: str) -> str:
    """The public address of a post."""
    return f"https://x.com/{username}/status/{post_id}"


def map_page(payload: Mapping[str, Any], ctx: PageContext) -> MappedPage:
    """Map one response page (``data`` / ``includes`` / ``errors`` / ``meta``) to mentions."""
    data = payload.get("data") or []
    data = data if isinstance(data, list) else [data]
    includes = payload.get("includes") or {}
    users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
    quoted = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
    errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
    unavailable_users = {str(e.get("resource_id")): _error_text(e) for e in errors if _is_user_error(e)}

    mentions: list[Mention] = []
    skipped = [_skipped_from_error(e) for e in errors if not _is_user_error(e)]
    seen: set[str] = set()
    for item in data:
        post_id = str(item.get("id")) if isinstance(item, dict) and item.get("id") else None
        if post_id is not None and post_id in seen:
            log.info("X post %s delivered twice in one page; keeping the first copy", post_id)
            continue
        try:
            mentions.append(_map_post(item, users, quoted, unavailable_users, ctx))
        except SkippableError as exc:
            skipped.append(SkippedItem(external_id=exc.external_id, reason=str(exc)))
            log.warning("skipped X post %s: %s", exc.external_id or "(no id)", exc)
        if post_id is not None:
            seen.add(post_id)
    newest = max_id((payload.get("meta") or {}).get("newest_id"), *(m.external_id for m in mentions))
    return MappedPage(mentions=mentions, skipped=skipped, reads=len(data), newest_id=newest)


def _map_post(
    item: Any,
    users: Mapping[str, Mapping[str, Any]],
    quoted: Mapping[str, Mapping[str, Any]],
    unavailable_users: Mapping[str, str],
    ctx: PageContext,
) -> Mention:
    if not isinstance(item, dict) or not item.get("id"):
        raise SkippableError("the post has no id", external_id=None)
    post_id = str(item["id"])
    text = _full_text(item)
    if not text.strip():
        raise SkippableError("the post has no text", external_id=post_id)
    author_id = str(item.get("author_id") or "")
    user = users.get(author_id)
    if user is None or not user.get("username"):
        why = unavailable_users.get(author_id, "not included in the response")
        raise SkippableError(f"the author ({author_id or 'no author_id'}) is missing: {why}", external_id=post_id)
    created_at = _parse_time(item.get("created_at"), post_id)
    author = _map_author(user)
    replyable, reason, is_brand = _replyability(item, author_id, quoted, ctx)
    return Mention(
        platform=Platform.X.value,
        external_id=post_id,
        text=text,
        created_at=created_at,
        author=author,
        url=post_url(author.handle, post_id),
        language=_language(item.get("lang")),
        conversation_id=_str_or_none(item.get("conversation_id")),
        in_reply_to_id=_referenced(item, "replied_to"),
        metrics=_metrics(item.get("public_metrics")),
        replyable=replyable,
        replyable_reason=reason,
        is_brand_post=is_brand,
        raw=stamp_payload(_clean_tree({"tweet": item, "author": user}), url=ctx.url, retrieved_at=ctx.retrieved_at),
        fetched_at=ctx.retrieved_at,
    )


def _full_text(item: Mapping[str, Any]) -> str:
    """The whole text: long posts carry it in ``note_tweet.text``, ``text`` being a 280-char preview."""
    note = item.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) else None
    if not isinstance(text, str) or not text:
        text = item.get("text")
    if not isinstance(text, str):
        return ""
    cleaned = clean_text(text)
    if cleaned != text:
        log.warning("X post %s had invalid or control characters; they were replaced", item.get("id"))
    return cleaned


def _map_author(user: Mapping[str, Any]) -> Author:
    metrics = _dict(user.get("public_metrics"))
    return Author(
        platform=Platform.X.value,
        external_id=str(user["id"]),
        handle=str(user["username"]),
        display_name=clean_text(str(user["name"])) if user.get("name") else None,
        followers=_int(metrics.get("followers_count")),
        verified=bool(user.get("verified", False)),
    )


def _replyability(
    item: Mapping[str, Any], author_id: str, quoted: Mapping[str, Mapping[str, Any]], ctx: PageContext
) -> tuple[bool, str, bool]:
    """(replyable, reason, is_brand_post).  Search hits that @mention or quote the brand are replyable."""
    if author_id in ctx.brand_ids:
        return False, REASON_BRAND_POST, True
    if not ctx.listen_only or _mentions_brand(item, ctx.brand_handle) or _quotes_brand(item, quoted, ctx):
        return True, REASON_REPLYABLE, False
    return False, REASON_SEARCH_ONLY, False


def _mentions_brand(item: Mapping[str, Any], handle: str) -> bool:
    mentioned = _dict(item.get("entities")).get("mentions") or []
    return any(isinstance(m, dict) and str(m.get("username", "")).lower() == handle.lower() for m in mentioned)


def _quotes_brand(item: Mapping[str, Any], quoted: Mapping[str, Mapping[str, Any]], ctx: PageContext) -> bool:
    quoted_id = _referenced(item, "quoted")
    return quoted_id is not None and str(quoted.get(quoted_id, {}).get("author_id")) in ctx.brand_ids


def _referenced(item: Mapping[str, Any], kind: str) -> str | None:
    for ref in item.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") == kind and ref.get("id"):
            return str(ref["id"])
    return None


def _metrics(raw: Any) -> Metrics:
    counts = raw if isinstance(raw, dict) else {}
    return Metrics(
        likes=_int(counts.get("like_count")),
        reposts=_int(counts.get("retweet_count")),
        replies=_int(counts.get("reply_count")),
        quotes=_int(counts.get("quote_count")),
    )


def _parse_time(value: Any, post_id: str) -> datetime:
    if not isinstance(value, str):
        raise SkippableError("the post has no created_at time", external_id=post_id)
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise SkippableError(f"the post's created_at {value[:40]!r} is not a time", external_id=post_id) from exc


def _language(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value not in _NO_LANGUAGE else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _is_user_error(error: Mapping[str, Any]) -> bool:
    return error.get("resource_type") == "user" and bool(error.get("resource_id"))


def _error_text(error: Mapping[str, Any]) -> str:
    parts = [str(error.get(key)) for key in ("title", "detail") if error.get(key)]
    return ": ".join(parts) or "unavailable"


def _skipped_from_error(error: Mapping[str, Any]) -> SkippedItem:
    resource_id = _str_or_none(error.get("resource_id") or error.get("value"))
    what = "a post it references" if error.get("parameter") == "referenced_tweets.id" else "a post"
    reason = f"X could not return {what}: {_error_text(error)}"
    log.warning("skipped X item %s: %s", resource_id or "(no id)", reason)
    return SkippedItem(external_id=resource_id, reason=reason)


def _clean_tree(value: Any) -> Any:
    """Apply :func:`clean_text` to every string in a JSON tree, so the raw payload is storable."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {str(key): _clean_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_tree(item) for item in value]
    return value
