"""Platform look and feel: external ids, post URLs and raw payloads shaped like each API's.

Ids are minted from a millisecond time, a stream number (bulk, live, reply) and a counter, in
each network's own format (X snowflakes, Mastodon ids, AT Protocol TIDs, Reddit base-36), so
bulk data, the live feed and the brand's replies can never collide.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from connectors.base import Author, Metrics
from connectors.demo.people import base32_sortable, base36

STREAM_BULK = 0
STREAM_LIVE = 1
STREAM_REPLY = 2

_TWITTER_EPOCH_MS = 1_288_834_974_657
_REDDIT_EPOCH_S = 1_577_836_800

SUBREDDITS = {
    "airline": ("travel", "flights", "awardtravel", "SkylineAir"),
    "telecom": ("NimbusMobile", "mobile", "techsupport", "cordcutters"),
    "food_delivery": ("fooddelivery", "ParceloEats", "doordash_drivers", "food"),
}


def mint_id(platform: str, ms: int, stream: int, counter: int, *, is_comment: bool = True) -> str:
    """An id in ``platform``'s format, unique for distinct ``(ms, stream, counter)``."""
    if platform == "x":
        return str(((ms - _TWITTER_EPOCH_MS) << 22) | (stream << 20) | (counter & 0xFFFFF))
    if platform == "mastodon":
        return str((ms << 16) | (stream << 14) | (counter & 0x3FFF))
    if platform == "bluesky":
        micros = ms * 1000 + counter % 1000
        return base32_sortable((micros << 10) | (stream << 8) | ((counter // 1000) & 0xFF), 13)
    if platform == "reddit":
        value = ((ms // 1000 - _REDDIT_EPOCH_S) * 3 + stream) * 4096 + counter % 4096
        return ("t1_" if is_comment else "t3_") + base36(value)
    raise ValueError(f"no id format for platform {platform!r}")


def external_id(platform: str, raw_id: str, author: Author) -> str:
    """The id stored on the mention: Bluesky uses the post's ``at://`` URI."""
    if platform == "bluesky":
        return f"at://{author.external_id}/app.bsky.feed.post/{raw_id}"
    return raw_id


def post_url(platform: str, ext_id: str, author: Author, subreddit: str, root_id: str | None) -> str:
    """Where a human opens the post."""
    if platform == "x":
        return f"https://x.com/{author.handle}/status/{ext_id}"
    if platform == "mastodon":
        user, _, instance = author.handle.partition("@")
        return f"https://{instance}/@{user}/{ext_id}"
    if platform == "bluesky":
        return f"https://bsky.app/profile/{author.handle}/post/{ext_id.rsplit('/', 1)[-1]}"
    post = (root_id or ext_id).removeprefix("t3_").removeprefix("t1_")
    base = f"https://www.reddit.com/r/{subreddit}/comments/{post}/"
    return base if ext_id.startswith("t3_") else f"{base}comment/{ext_id[3:]}/"


def raw_payload(
    platform: str,
    ext_id: str,
    text: str,
    created: datetime,
    author: Author,
    language: str,
    metrics: Metrics,
    conversation_id: str | None,
    in_reply_to: str | None,
    subreddit: str,
) -> dict[str, Any]:
    """A trimmed payload in the shape the platform's API returns."""
    stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if platform == "x":
        payload: dict[str, Any] = {
            "id": ext_id,
            "text": text,
            "author_id": author.external_id,
            "created_at": stamp,
            "conversation_id": conversation_id or ext_id,
            "lang": language,
            "public_metrics": {
                "like_count": metrics.likes,
                "retweet_count": metrics.reposts,
                "reply_count": metrics.replies,
                "quote_count": metrics.quotes,
            },
        }
        if in_reply_to:
            payload["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
        return payload
    if platform == "mastodon":
        return {
            "id": ext_id,
            "created_at": stamp,
            "in_reply_to_id": in_reply_to,
            "language": language,
            "content": f"<p>{html.escape(text)}</p>",
            "account": {"id": author.external_id, "acct": author.handle, "followers_count": author.followers},
            "favourites_count": metrics.likes,
            "reblogs_count": metrics.reposts,
            "replies_count": metrics.replies,
        }
    if platform == "bluesky":
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": stamp, "langs": [language]}
        if in_reply_to:
            record["reply"] = {"root": {"uri": conversation_id}, "parent": {"uri": in_reply_to}}
        return {
            "uri": ext_id,
            "author": {"did": author.external_id, "handle": author.handle},
            "record": record,
            "likeCount": metrics.likes,
            "repostCount": metrics.reposts,
            "replyCount": metrics.replies,
        }
    is_post = ext_id.startswith("t3_")
    payload = {
        "name": ext_id,
        "id": ext_id[3:],
        "author": author.handle,
        "author_fullname": author.external_id,
        "subreddit": subreddit,
        "created_utc": created.timestamp(),
        "score": metrics.likes,
        "link_id": conversation_id or ext_id,
    }
    if is_post:
        payload.update(selftext=text, num_comments=metrics.replies)
    else:
        payload.update(body=text, parent_id=in_reply_to or conversation_id)
    return payload
