"""X API v2 payloads -> :class:`~connectors.base.Mention` records.  Pure: no network, no clock.

What a page becomes, and why:

* A post in ``data`` is a mention.  Its text is unescaped: X sends ``&``, ``<`` and ``>`` in
  ``text`` as ``&amp;``, ``&lt;`` and ``&gt;``, and only those, so exactly those are undone.
* A retweet is not a mention of its own.  X gives it a truncated ``"RT @user: …"`` copy of the text
  and the *original's* counts; storing it would count one post many times and queue a reply that
  would land under the retweet.  The original (from ``includes.tweets``, with its own author from
  ``includes.users``) is the mention instead, once however many retweets of it arrive, and the
  retweeters are noted in ``raw["_mentiondesk"]["reposted_by"]`` as engagement.  A post reached
  only through a retweet is replyable under X's own rule for self-serve replies, whatever the
  source: when it @mentions or quotes the brand itself.  When X withheld the original (deleted,
  protected), the retweet is kept as it came, never replyable, its borrowed counts zeroed.
* A quote is the quoting post: it has its own words and counts.  The quoted post's id is kept in
  ``raw["_mentiondesk"]["quoted_id"]``, and quoting the brand makes a search hit replyable, as X
  allows replies to posts that quote the replying account.
* A sparse post (X's default fields are only ``id`` and ``text``; or an author X did not expand)
  keeps what it has: the time from ``created_at`` or else from the snowflake id, and an author
  with the handle ``"unknown"`` (and the ``author_id``, when there is one) until
  :func:`apply_users` fills it in from a user lookup.
* ``errors`` skip a post only when a post asked for by id is missing from ``data``.  Errors about
  referenced posts, users, media or fields the app may not read lose no post: they are logged at
  debug level and ignored.

One malformed post (no id, no text, no usable time) is skipped and logged with its id; the rest of
the page is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from connectors.base import (
    MAPPING_ERRORS,
    REASON_BRAND_POST,
    REASON_REPLYABLE,
    REASON_REPOST,
    REASON_SEARCH_ONLY,
    Author,
    Mention,
    Metrics,
    Platform,
    SkippableError,
    SkippedItem,
    skippable,
    stamp_payload,
    utc,
    with_notes,
)
from connectors.ids import fit_for_storage
from connectors.text import clean_text
from connectors.x.cursor import max_id

log = logging.getLogger(__name__)

UNKNOWN_HANDLE: Final = "unknown"
"""Handle of an author X did not describe (no ``author_id`` expansion)."""
SNOWFLAKE_EPOCH_MS: Final = 1288834974657
"""X's epoch: a post id shifted right by 22 bits is milliseconds since this Unix time."""
# X's codes for "no language": undetermined, no linguistic content, and the q* pseudo-languages.
_NO_LANGUAGE: Final = frozenset({"und", "zxx", "qme", "qht", "qam", "qct", "qst", "qdm"})
# X escapes these three in ``text`` (and nothing else); ``&amp;`` last so "&amp;lt;" stays "&lt;".
_X_ESCAPES: Final = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_LOOKUP_PARAMETERS: Final = frozenset({"id", "ids"})


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
    """One page mapped: the kept mentions, what was skipped, and what X billed.

    ``unknown_author_ids`` are authors X did not describe and did not report unavailable: a user
    lookup may fill them in (see :func:`apply_users`).
    """

    mentions: list[Mention]
    skipped: list[SkippedItem]
    reads: int
    newest_id: str | None
    unknown_author_ids: list[str]


@dataclass(frozen=True, slots=True)
class _Includes:
    users: Mapping[str, Mapping[str, Any]]
    tweets: Mapping[str, Mapping[str, Any]]
    unavailable_users: Mapping[str, str]


def post_url(username: str, post_id: str) -> str:
    """The public address of a post."""
    return f"https://x.com/{username}/status/{post_id}"


def anonymous_post_url(post_id: str) -> str:
    """The address of a post whose author is not known yet (X redirects it to the author's)."""
    return f"https://x.com/i/web/status/{post_id}"


def snowflake_time(post_id: str) -> datetime | None:
    """When a post was created, read from its snowflake id; ``None`` for ids older than snowflakes."""
    if not post_id.isdigit() or int(post_id) >> 22 == 0:
        return None
    return datetime.fromtimestamp(((int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)


def map_page(payload: Mapping[str, Any], ctx: PageContext) -> MappedPage:
    """Map one response page (``data`` / ``includes`` / ``errors`` / ``meta``) to mentions."""
    raw_data = payload.get("data") or []
    data: list[Any] = raw_data if isinstance(raw_data, list) else [raw_data]
    includes = _includes(payload)
    data_ids = {str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")}
    skipped = _lost_posts([e for e in payload.get("errors") or [] if isinstance(e, dict)], data_ids)
    mentions, bad = _map_items(data, includes, ctx)
    meta = payload.get("meta")
    newest = max_id(meta.get("newest_id") if isinstance(meta, dict) else None, *data_ids)
    unknown = {
        m.author.external_id
        for m in mentions
        if m.author is not None and m.author.handle == UNKNOWN_HANDLE
        if m.author.external_id not in includes.unavailable_users
    }
    return MappedPage(mentions, skipped + bad, reads=len(data), newest_id=newest, unknown_author_ids=sorted(unknown))


def apply_users(mentions: Iterable[Mention], users: Iterable[Any]) -> list[Mention]:
    """Fill in ``"unknown"`` authors from X user objects (a ``GET /2/users`` lookup's ``data``)."""
    by_id = {str(u["id"]): u for u in users if isinstance(u, Mapping) and u.get("id") and u.get("username")}
    filled: list[Mention] = []
    for mention in mentions:
        known = mention.author
        user = by_id.get(known.external_id) if known is not None and known.handle == UNKNOWN_HANDLE else None
        if user is not None:
            author = _map_author(user)
            url = post_url(author.handle, mention.external_id)
            mention = replace(mention, author=author, url=url, raw=with_notes(mention.raw, author_looked_up=True))
        filled.append(mention)
    return filled


# --- posts ---------------------------------------------------------------------------------------


def _includes(payload: Mapping[str, Any]) -> _Includes:
    includes = payload.get("includes")
    inc: Mapping[str, Any] = includes if isinstance(includes, dict) else {}
    users = {str(u.get("id")): u for u in inc.get("users") or [] if isinstance(u, dict)}
    tweets = {str(t.get("id")): t for t in inc.get("tweets") or [] if isinstance(t, dict)}
    errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
    unavailable = {str(e["resource_id"]): _error_text(e) for e in errors if _is_user_error(e)}
    return _Includes(users, tweets, unavailable)


def _map_items(data: list[Any], includes: _Includes, ctx: PageContext) -> tuple[list[Mention], list[SkippedItem]]:
    """Map every item; keep each post once, preferring its own delivery over one through a retweet."""
    kept: dict[str, tuple[Mention, bool]] = {}
    reposters: dict[str, list[dict[str, Any]]] = {}
    skipped: list[SkippedItem] = []
    for item in data:
        try:
            mention, via_repost = _map_item(item, includes, ctx)
        except MAPPING_ERRORS as caught:
            exc = skippable(caught, item)
            if exc.external_id is None or all(s.external_id != exc.external_id for s in skipped):
                log.warning("skipped X post %s: %s", exc.external_id or "(no id)", exc)
                skipped.append(SkippedItem(exc.external_id, str(exc)))
            continue
        if via_repost:
            reposters.setdefault(mention.external_id, []).append(_reposter(item, includes))
        previous = kept.get(mention.external_id)
        if previous is None or (previous[1] and not via_repost):
            kept[mention.external_id] = (mention, via_repost)
        elif not via_repost:
            log.info("X post %s delivered twice in one page; keeping the first copy", mention.external_id)
    mentions = [_with_reposters(m, reposters.get(m.external_id, [])) for m, _ in kept.values()]
    return [fit_for_storage(m) for m in mentions], skipped


def _map_item(item: Any, includes: _Includes, ctx: PageContext) -> tuple[Mention, bool]:
    """(mention, reached through a retweet)."""
    if not isinstance(item, dict) or not item.get("id"):
        raise SkippableError("the post has no id", external_id=None)
    original_id = _referenced(item, "retweeted")
    if original_id is None:
        return _map_post(item, includes, ctx, via_repost=False), False
    original = includes.tweets.get(original_id)
    if original is not None and original.get("id"):
        return _map_post(original, includes, ctx, via_repost=True), True
    return _map_withheld_repost(item, original_id, includes, ctx), False


def _map_post(item: Mapping[str, Any], includes: _Includes, ctx: PageContext, *, via_repost: bool) -> Mention:
    post_id = str(item["id"])
    text = _full_text(item)
    if not text.strip():
        raise SkippableError("the post has no text", external_id=post_id)
    created_at, from_id = _created_at(item, post_id)
    author_id = _str_or_none(item.get("author_id"))
    user = includes.users.get(author_id) if author_id else None
    author = _author(author_id, user, includes)
    replyable, reason, is_brand = _replyability(item, author_id, includes.tweets, ctx, via_repost=via_repost)
    raw = stamp_payload(_clean_tree({"tweet": item, "author": user}), url=ctx.url, retrieved_at=ctx.retrieved_at)
    notes = _post_notes(item, from_id, author, includes)
    known = author is not None and author.handle != UNKNOWN_HANDLE
    return Mention(
        platform=Platform.X.value,
        external_id=post_id,
        text=text,
        created_at=created_at,
        author=author,
        url=post_url(author.handle, post_id) if known and author else anonymous_post_url(post_id),
        language=_language(item.get("lang")),
        conversation_id=_str_or_none(item.get("conversation_id")),
        in_reply_to_id=_referenced(item, "replied_to"),
        metrics=_metrics(item.get("public_metrics")),
        replyable=replyable,
        replyable_reason=reason,
        is_brand_post=is_brand,
        raw=with_notes(raw, **notes) if notes else raw,
        fetched_at=ctx.retrieved_at,
    )


def _map_withheld_repost(item: Mapping[str, Any], original_id: str, includes: _Includes, ctx: PageContext) -> Mention:
    """A retweet whose original X did not include: keep it, but never answerable, and without borrowed counts."""
    mention = _map_post(item, includes, ctx, via_repost=True)
    log.info("X retweet %s: original %s not included; kept the retweet itself", mention.external_id, original_id)
    return replace(
        mention,
        replyable=False,
        replyable_reason=REASON_BRAND_POST if mention.is_brand_post else REASON_REPOST,
        metrics=Metrics(),
        raw=with_notes(mention.raw, repost_of=original_id, original_withheld=True),
    )


def _post_notes(item: Mapping[str, Any], from_id: bool, author: Author | None, includes: _Includes) -> dict[str, Any]:
    notes: dict[str, Any] = {}
    quoted = _referenced(item, "quoted")
    if quoted:
        notes["quoted_id"] = quoted
    if from_id:
        notes["created_at_from_id"] = True
    if author is not None and author.handle == UNKNOWN_HANDLE:
        notes["author_unavailable"] = includes.unavailable_users.get(author.external_id, "not included by X")
    return notes


def _reposter(item: Mapping[str, Any], includes: _Includes) -> dict[str, Any]:
    author_id = _str_or_none(item.get("author_id"))
    user = includes.users.get(author_id or "") or {}
    return {
        "user_id": author_id,
        "username": user.get("username"),
        "followers": _int(_dict(user.get("public_metrics")).get("followers_count")),
        "repost_id": str(item["id"]),
        "reposted_at": item.get("created_at"),
    }


def _with_reposters(mention: Mention, reposters: list[dict[str, Any]]) -> Mention:
    return replace(mention, raw=with_notes(mention.raw, reposted_by=reposters)) if reposters else mention


def _full_text(item: Mapping[str, Any]) -> str:
    """The whole text: long posts carry it in ``note_tweet.text``, ``text`` being a 280-char preview."""
    note = item.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) else None
    if not isinstance(text, str) or not text:
        text = item.get("text")
    if not isinstance(text, str):
        return ""
    for escaped, plain in _X_ESCAPES:
        text = text.replace(escaped, plain)
    cleaned = clean_text(text)
    if cleaned != text:
        log.warning("X post %s had invalid or control characters; they were replaced", item.get("id"))
    return cleaned


def _created_at(item: Mapping[str, Any], post_id: str) -> tuple[datetime, bool]:
    """(time, read from the id): ``created_at`` when X sent a readable one, else the snowflake id's time."""
    value = item.get("created_at")
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value)), False
        except ValueError:
            log.warning("X post %s: created_at %r is not a time; using the id's time", post_id, value[:40])
    from_id = snowflake_time(post_id)
    if from_id is None:
        raise SkippableError("the post has no readable time and its id is not a snowflake", external_id=post_id)
    return from_id, True


def _author(author_id: str | None, user: Mapping[str, Any] | None, includes: _Includes) -> Author | None:
    if user is not None and user.get("username"):
        return _map_author(user)
    if author_id is None:
        return None
    why = includes.unavailable_users.get(author_id, "not included in the response")
    log.info("X author %s not described (%s); the post is kept with an unknown author", author_id, why)
    return Author(platform=Platform.X.value, external_id=author_id, handle=UNKNOWN_HANDLE)


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
    item: Mapping[str, Any],
    author_id: str | None,
    quoted: Mapping[str, Mapping[str, Any]],
    ctx: PageContext,
    *,
    via_repost: bool,
) -> tuple[bool, str, bool]:
    """(replyable, reason, is_brand_post).

    Posts on the mention timeline are replyable; any other (a search hit, a post reached through a
    retweet) only when it @mentions or quotes the brand itself, the posts X lets self-serve apps answer.
    """
    if author_id is not None and author_id in ctx.brand_ids:
        return False, REASON_BRAND_POST, True
    addressed = _mentions_brand(item, ctx.brand_handle) or _quotes_brand(item, quoted, ctx)
    if addressed or not (ctx.listen_only or via_repost):
        return True, REASON_REPLYABLE, False
    return False, REASON_REPOST if via_repost else REASON_SEARCH_ONLY, False


def _mentions_brand(item: Mapping[str, Any], handle: str) -> bool:
    if not handle:
        return False
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


def _language(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value not in _NO_LANGUAGE else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


# --- the errors array ----------------------------------------------------------------------------


def _lost_posts(errors: list[dict[str, Any]], data_ids: set[str]) -> list[SkippedItem]:
    """Skip records for posts asked for by id that X did not return; everything else is only logged."""
    lost: list[SkippedItem] = []
    for error in errors:
        if _is_lost_post(error, data_ids):
            lost.append(_skipped_from_error(error))
        else:
            log.debug(
                "X reported %s on %s %s (%s); no post was lost",
                error.get("title") or "an error",
                error.get("resource_type") or "a resource",
                error.get("resource_id") or error.get("value") or "?",
                error.get("parameter") or error.get("field") or "",
            )
    return lost


def _is_lost_post(error: Mapping[str, Any], data_ids: set[str]) -> bool:
    resource_id = _str_or_none(error.get("resource_id") or error.get("value"))
    asked_for = error.get("parameter") in _LOOKUP_PARAMETERS or error.get("section") == "data"
    return error.get("resource_type") == "tweet" and asked_for and resource_id not in data_ids


def _is_user_error(error: Mapping[str, Any]) -> bool:
    return error.get("resource_type") == "user" and bool(error.get("resource_id"))


def _error_text(error: Mapping[str, Any]) -> str:
    parts = [str(error.get(key)) for key in ("title", "detail") if error.get(key)]
    return ": ".join(parts) or "unavailable"


def _skipped_from_error(error: Mapping[str, Any]) -> SkippedItem:
    resource_id = _str_or_none(error.get("resource_id") or error.get("value"))
    reason = f"X could not return a post: {_error_text(error)}"
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
