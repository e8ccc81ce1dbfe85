"""JSON cursors: every connector reads back what it wrote, and refuses an unreadable one with the same words."""

from __future__ import annotations

import pytest

from connectors.base import FatalError
from connectors.bluesky import _Cursor as BlueskyCursor
from connectors.demo.live import LiveCursor
from connectors.rss import _Cursor as RssCursor

UNREADABLE = ["not json", "[1]", "5", '"text"', "null"]


def test_cursors_round_trip_and_start_fresh_on_no_cursor() -> None:
    bluesky = BlueskyCursor("2026-11-02T09:00:00Z", "page-2", "2026-11-02T10:00:00Z")
    assert BlueskyCursor.load(bluesky.dump()) == bluesky
    rss = RssCursor(etag='"abc"', seen=["h1", "h2"], next_url="https://example.com/feed?page=2", depth=1)
    assert RssCursor.load(rss.dump()) == rss
    live = LiveCursor(seq=40, seed=7, anchor_ms=1_000, at_ms=2_000)
    assert LiveCursor.decode(live.encode()) == live
    assert BlueskyCursor.load(None) == BlueskyCursor() and RssCursor.load("") == RssCursor()


def test_unknown_keys_are_dropped_and_missing_ones_keep_their_default() -> None:
    assert RssCursor.load('{"etag": "x", "from_a_newer_version": 1}') == RssCursor(etag="x")
    assert BlueskyCursor.load('{"page": "p"}') == BlueskyCursor(page="p")


@pytest.mark.parametrize("text", UNREADABLE)
@pytest.mark.parametrize(
    ("read", "what"),
    [(BlueskyCursor.load, "Bluesky"), (RssCursor.load, "RSS"), (LiveCursor.decode, "demo source")],
)
def test_an_unreadable_cursor_is_fatal_and_says_to_reset_it(read: object, what: str, text: str) -> None:
    with pytest.raises(FatalError, match=rf"^stored {what} cursor is unreadable \(.+\); reset the source's cursor$"):
        read(text)  # type: ignore[operator]
