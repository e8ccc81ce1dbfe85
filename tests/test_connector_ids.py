"""Ids and short fields made to fit the store's columns, the originals kept (connectors/ids.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import Author, Mention, stamp_payload
from connectors.ids import MAX_HANDLE, MAX_ID, fit_for_storage, short_id

LONG_ID = "http://alerts.weather.gov/cap/wwacapget.php?x=IN125154A92088.SevereWeatherStatement.125154A9227CIN.INDSVSIND.2faa803e2f00caa7e0f7bf548b60d2b5"


def mention(**fields) -> Mention:
    values = dict(
        platform="rss",
        external_id="x-1",
        text="t",
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
        raw=stamp_payload({"id": "x-1"}, url="u", retrieved_at=datetime(2026, 3, 2, tzinfo=UTC)),
    )
    values.update(fields)
    return Mention(**values)


def test_short_ids_are_left_alone_and_long_ones_hash_the_same_everywhere():
    assert short_id("1896541234567890105") == "1896541234567890105"
    assert short_id("a" * MAX_ID) == "a" * MAX_ID
    assert len(LONG_ID) == 141
    hashed = short_id(LONG_ID)
    assert hashed == short_id(LONG_ID) and hashed.startswith("h:") and len(hashed) == 42
    assert short_id(LONG_ID + "x") != hashed


def test_a_reply_to_a_long_id_still_points_at_its_parent():
    parent = fit_for_storage(mention(external_id=LONG_ID, conversation_id=LONG_ID))
    reply = fit_for_storage(mention(external_id="r-1", in_reply_to_id=LONG_ID, conversation_id=LONG_ID))
    assert reply.in_reply_to_id == parent.external_id == reply.conversation_id
    assert reply.raw["_mentiondesk"]["original_ids"] == {"conversation_id": LONG_ID, "in_reply_to_id": LONG_ID}
    assert reply.raw["data"] == {"id": "x-1"}  # the platform's payload is untouched


def test_long_handles_and_links_fit_and_the_originals_are_kept():
    handle = "a" * 200 + ".bsky.social"  # atproto handles may be 253 characters long
    link = "https://example.com/?" + "q" * 600
    fitted = fit_for_storage(mention(author=Author("bluesky", "did:plc:x", handle), url=link))
    assert fitted.author is not None and len(fitted.author.handle) == MAX_HANDLE
    assert fitted.author.handle.endswith("…") and fitted.url is None
    assert fitted.raw["_mentiondesk"]["original_ids"] == {"author_handle": handle, "url": link}


def test_a_mention_that_fits_is_returned_as_is():
    m = mention(author=Author("x", "1", "dana"), url="https://x.com/dana/status/1")
    assert fit_for_storage(m) is m
