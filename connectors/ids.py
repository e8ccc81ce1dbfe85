"""Keep platform ids and short fields within what the store can hold, without losing the originals.

The store keeps ``external_id``, ``conversation_id`` and ``in_reply_to`` in 128-character columns
(authors' ids too), handles in 120, display names in 200 and links in 512.  Most platforms stay far
below, but feed entry ids are URLs (weather.gov alerts run to 140+ characters) and Bluesky handles
may be 253 long.  On PostgreSQL one over-long value fails the whole batch, so every connector passes
its records through :func:`fit_for_storage` last.

An over-long id becomes ``"h:" + sha256(id)[:40]``: stable, so a reply still links to its parent
and a re-delivery still finds the stored row, and the original is kept in
``raw["_mentiondesk"]["original_ids"]``.  Text fields are shortened (ending in "…"); an over-long
link, which would be broken if cut, is dropped and kept in the notes.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Final

from connectors.base import Author, Mention, notes_of, with_notes

MAX_ID: Final = 128
MAX_HANDLE: Final = 120
MAX_DISPLAY_NAME: Final = 200
MAX_URL: Final = 512
MAX_LANGUAGE: Final = 12
HASH_PREFIX: Final = "h:"


def short_id(value: str) -> str:
    """``value`` itself when it fits :data:`MAX_ID`, else its stable hashed form (the same everywhere)."""
    if len(value) <= MAX_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return HASH_PREFIX + digest


def fit_for_storage(mention: Mention) -> Mention:
    """Return ``mention`` with ids hashed and fields shortened where the store's columns require it."""
    ids = {
        "external_id": mention.external_id,
        "conversation_id": mention.conversation_id,
        "in_reply_to_id": mention.in_reply_to_id,
    }
    originals: dict[str, Any] = {k: v for k, v in ids.items() if v is not None and len(v) > MAX_ID}
    changes: dict[str, Any] = {key: short_id(str(value)) for key, value in originals.items()}
    author, author_notes = _fit_author(mention.author)
    if author is not mention.author:
        changes["author"] = author
        originals.update(author_notes)
    if mention.url is not None and len(mention.url) > MAX_URL:
        changes["url"] = None
        originals["url"] = mention.url
    if mention.language is not None and len(mention.language) > MAX_LANGUAGE:
        changes["language"] = None
    if not changes:
        return mention
    known = notes_of(mention.raw).get("original_ids")
    merged = {**(known if isinstance(known, dict) else {}), **originals}
    raw = with_notes(mention.raw, original_ids=merged) if merged else mention.raw
    return replace(mention, raw=raw, **changes)


def _fit_author(author: Author | None) -> tuple[Author | None, dict[str, str]]:
    if author is None:
        return None, {}
    notes: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if len(author.external_id) > MAX_ID:
        notes["author_external_id"] = author.external_id
        changes["external_id"] = short_id(author.external_id)
    if len(author.handle) > MAX_HANDLE:
        notes["author_handle"] = author.handle
        changes["handle"] = _shorten(author.handle, MAX_HANDLE)
    if author.display_name is not None and len(author.display_name) > MAX_DISPLAY_NAME:
        changes["display_name"] = _shorten(author.display_name, MAX_DISPLAY_NAME)
    if not changes:
        return author, {}
    return replace(author, **changes), notes


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
