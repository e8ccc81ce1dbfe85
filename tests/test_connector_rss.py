"""RSS/Atom connector through the real feedparser, with HTTP served by `responses`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from connectors.base import REASON_BRAND_POST, REASON_NEWS, AuthError, FatalError, Mention, RetriableError
from connectors.ids import short_id
from connectors.rss import RssConfig, RssConnector

FIXTURES = Path(__file__).parent / "fixtures/rss"
NEWS_URL = "https://travelwire.example/feed.xml"
BLOG_URL = "https://blog.example/atom.xml"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(url: str = NEWS_URL, sleeps: Sleeps | None = None, **config) -> RssConnector:
    config.setdefault("keywords", ("AcmeAir",))
    return RssConnector(RssConfig(feed_url=url, **config), sleep=sleeps if sleeps is not None else Sleeps())


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://travelwire.example/</link>{body}</channel></rss>"
    ).encode()


@responses.activate
def test_keeps_items_naming_the_brand_as_listen_only_news():
    responses.get(
        NEWS_URL,
        body=fixture("news.xml"),
        content_type=RSS_TYPE,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"},
    )
    batch = connector().fetch(None)
    assert batch.reads == 4 and batch.has_more is False and batch.skipped == []
    first, lounge = batch.mentions
    assert first.external_id == "https://travelwire.example/2026/03/acmeair-cancels"
    assert first.text == (
        "AcmeAir cancels 40 flights as storm hits Chicago\n\nPassengers were rebooked & offered vouchers."
    )
    assert first.created_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert first.author is not None and first.author.handle == "Dana Reyes"
    assert first.url == "https://travelwire.example/2026/03/acmeair-cancels"
    assert (first.replyable, first.replyable_reason, first.is_brand_post) == (False, REASON_NEWS, False)
    assert first.language == "en" and first.conversation_id == first.external_id
    assert first.raw["_meta"]["url"] == NEWS_URL
    assert first.raw["data"]["title"].startswith("AcmeAir cancels")
    json.dumps(first.raw)
    assert lounge.external_id == "tw-88121"
    assert lounge.text.endswith("The acmeair lounge at JFK is 🔥 — Ünïcödé & emoji ✈️ welcome.")
    assert lounge.author is not None and lounge.author.handle == "Travel Wire"
    cursor = json.loads(batch.next_cursor or "")
    assert (cursor["etag"], cursor["modified"]) == ('"v1"', "Mon, 02 Mar 2026 10:00:00 GMT")


@responses.activate
def test_conditional_get_answers_304_with_no_items_and_the_same_cursor():
    responses.get(
        NEWS_URL,
        body=fixture("news.xml"),
        content_type=RSS_TYPE,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"},
    )
    responses.get(NEWS_URL, status=304)
    cursor = connector().fetch(None).next_cursor
    again = connector().fetch(cursor)
    assert (again.mentions, again.next_cursor, again.has_more) == ([], cursor, False)
    sent = responses.calls[1].request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 02 Mar 2026 10:00:00 GMT"
    assert "If-None-Match" not in responses.calls[0].request.headers


@responses.activate
def test_resume_returns_only_items_not_seen_before():
    old = '<title>AcmeAir old news</title><guid isPermaLink="false">a-1</guid>'
    responses.get(NEWS_URL, body=rss(old), content_type=RSS_TYPE)
    responses.get(
        NEWS_URL,
        body=rss('<title>AcmeAir fresh news</title><guid isPermaLink="false">a-2</guid>', old),
        content_type=RSS_TYPE,
    )
    cursor = connector().fetch(None).next_cursor
    batch = connector().fetch(cursor)
    assert [m.external_id for m in batch.mentions] == ["a-2"]
    assert json.loads(batch.next_cursor or "")["newest_id"] == "a-2"


@responses.activate
def test_follows_paged_feed_next_links_while_pages_are_all_new():
    responses.get(BLOG_URL, body=fixture("archive_page1.xml"), content_type=ATOM_TYPE, headers={"ETag": "p1"})
    responses.get(f"{BLOG_URL}?page=2", body=fixture("archive_page2.xml"), content_type=ATOM_TYPE)
    conn = connector(BLOG_URL, max_pages=2)
    first = conn.fetch(None)
    assert [m.external_id for m in first.mentions] == [
        "tag:blog.example,2026:post-4",
        "tag:blog.example,2026:post-3",
    ]
    assert first.has_more is True
    second = connector(BLOG_URL, max_pages=2).fetch(first.next_cursor)
    assert [m.external_id for m in second.mentions] == [
        "tag:blog.example,2026:post-2",
        "tag:blog.example,2026:post-1",
    ]
    assert second.has_more is False  # page 3 exists but max_pages stops the walk
    assert second.mentions[0].author is not None and second.mentions[0].author.handle == "AcmeAir Watch"
    # the next poll starts again at the feed itself, conditionally
    page1_again = fixture("archive_page1.xml").replace(
        b"<entry>",
        b"<entry><title>AcmeAir new</title><id>tag:blog.example,2026:post-5</id>"
        b"<updated>2026-03-03T00:00:00Z</updated>"
        b"</entry><entry>",
        1,
    )
    responses.get(BLOG_URL, body=page1_again, content_type=ATOM_TYPE)
    third = connector(BLOG_URL, max_pages=5).fetch(second.next_cursor)
    assert [m.external_id for m in third.mentions] == ["tag:blog.example,2026:post-5"]
    assert third.has_more is False  # page 1 held a seen entry, so older pages are not walked
    assert responses.calls[2].request.headers["If-None-Match"] == "p1"


@responses.activate
def test_429_with_retry_after_is_waited_out():
    responses.get(NEWS_URL, status=429, headers={"Retry-After": "120"})
    responses.get(NEWS_URL, body=fixture("news.xml"), content_type=RSS_TYPE)
    sleeps = Sleeps()
    batch = connector(sleeps=sleeps).fetch(None)
    assert len(batch.mentions) == 2
    assert len(sleeps) == 1 and 119 <= sleeps[0] <= 122


@responses.activate
def test_5xx_is_retried_then_gives_up_as_retriable():
    responses.get(NEWS_URL, status=503)
    responses.get(NEWS_URL, body=fixture("news.xml"), content_type=RSS_TYPE)
    sleeps = Sleeps()
    assert len(connector(sleeps=sleeps).fetch(None).mentions) == 2
    assert len(sleeps) == 1
    responses.replace(responses.GET, NEWS_URL, status=500)
    with pytest.raises(RetriableError) as info:
        connector(attempts=3).fetch(None)
    assert info.value.status == 500 and "gave up after 3 attempts" in str(info.value)


@responses.activate
@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, "needs credentials"),
        (403, AuthError, "refuses"),
        (404, FatalError, "no longer exists"),
    ],
)
def test_refusals_are_fatal_with_plain_reasons(status, error, words):
    responses.get(NEWS_URL, status=status)
    with pytest.raises(error) as info:
        connector().fetch(None)
    assert words in str(info.value) and "travelwire.example" in str(info.value)
    assert len(responses.calls) == 1


@responses.activate
def test_malformed_items_are_skipped_and_duplicates_dropped(caplog):
    long_text = "AcmeAir " + "ü🚀" * 1996
    body = rss(
        "<title>AcmeAir without an id or a link</title>",
        '<guid isPermaLink="false">empty-1</guid>',
        '<title>AcmeAir delayed again</title><guid isPermaLink="false">d-1</guid>',
        '<title>AcmeAir delayed again</title><guid isPermaLink="false">d-1</guid>',
        f'<title>AcmeAir long read</title><guid isPermaLink="false">long-1</guid>'
        f"<description>{long_text}</description>",
        '<title>AcmeAir \u202eodd\u0000 unicode</title><guid isPermaLink="false">odd-1</guid>'
        "<pubDate>not a date</pubDate>",
    )
    responses.get(NEWS_URL, body=body, content_type=RSS_TYPE)
    with caplog.at_level("WARNING"):
        batch = connector().fetch(None)
    assert [(s.external_id, s.reason) for s in batch.skipped] == [
        (None, "feed item has neither an id nor a link"),
        ("empty-1", "feed item has no title and no text"),
    ]
    assert [m.external_id for m in batch.mentions] == ["d-1", "long-1", "odd-1"]
    assert batch.mentions[1].text == f"AcmeAir long read\n\n{long_text}" and len(long_text) == 4000
    assert "empty-1" in caplog.text


@responses.activate
def test_a_page_that_is_not_a_feed_is_a_fatal_error():
    responses.get(NEWS_URL, body=b"<html><body><h1>Moved</h1", content_type="text/html")
    with pytest.raises(FatalError, match="not an RSS or Atom feed"):
        connector().fetch(None)


@responses.activate
def test_brand_feed_items_are_brand_posts_without_keyword_filter():
    responses.get(BLOG_URL, body=fixture("archive_page2.xml"), content_type=ATOM_TYPE)
    batch = connector(BLOG_URL, keywords=(), brand_feed=True, max_pages=1).fetch(None)
    assert len(batch.mentions) == 2 and batch.has_more is False
    assert all(m.is_brand_post and m.replyable_reason == REASON_BRAND_POST for m in batch.mentions)


def test_reply_is_refused_and_there_is_never_a_reply_to_find():
    conn = connector()
    mention = Mention(platform="rss", external_id="x", text="t", created_at=datetime.now(UTC))
    with pytest.raises(FatalError, match="news items cannot be replied to"):
        conn.reply(mention, "hello", idempotency_key="k")
    assert conn.find_reply(mention, "hello") is None


def test_a_source_without_keywords_is_a_config_error():
    with pytest.raises(FatalError, match="keyword"):
        RssConnector(RssConfig(feed_url=NEWS_URL, keywords=()))


# --- real recorded feeds ---------------------------------------------------------------------
# tests/fixtures/rss/nws_cap_index.xml: a National Weather Service CAP Atom index (2014), ids of 131-144 chars.
# tests/fixtures/rss/feedjira_itunes.xml: feedjira's podcast sample feed (Apple's example), verbatim.

NWS_URL = "https://alerts.weather.gov/cap/wwaatmget.php?x=INC121&y=0"
PODCAST_URL = "http://www.example.com/podcasts/everything/index.xml"


@responses.activate
def test_ids_longer_than_the_column_are_hashed_stably_with_the_original_kept():
    responses.get(NWS_URL, body=fixture("nws_cap_index.xml"), content_type=ATOM_TYPE)
    batch = connector(NWS_URL, keywords=("Parke",)).fetch(None)
    assert len(batch.mentions) == 4  # the watch does not name Parke
    for m in batch.mentions:
        original = m.raw["_mentiondesk"]["original_ids"]["external_id"]
        assert len(original) > 128 and original.startswith("http://alerts.weather.gov/cap/wwacapget.php?x=IN")
        assert m.external_id == short_id(original) and len(m.external_id) == 42
        assert m.external_id.startswith("h:") and m.conversation_id == m.external_id  # threads still link
        assert m.url == original  # the link fits its column and stays whole
        assert m.created_at.tzinfo is not None and "created_at_estimated" not in m.raw["_mentiondesk"]
    first = batch.mentions[0]
    assert first.created_at == datetime(2014, 5, 22, 2, 10, tzinfo=UTC)
    assert first.text.startswith("Severe Weather Statement issued May 21")
    # hashing is stable: a second fetch finds nothing new
    responses.get(NWS_URL, body=fixture("nws_cap_index.xml"), content_type=ATOM_TYPE)
    assert connector(NWS_URL, keywords=("Parke",)).fetch(batch.next_cursor).mentions == []


@responses.activate
def test_podcast_items_leave_a_strictly_json_raw_payload():
    import orjson

    responses.get(PODCAST_URL, body=fixture("feedjira_itunes.xml"), content_type=RSS_TYPE)
    batch = connector(PODCAST_URL, keywords=(), brand_feed=True).fetch(None)
    assert len(batch.mentions) == 3
    for m in batch.mentions:
        json.dumps(m.raw, allow_nan=False)
        orjson.dumps(m.raw)
    first = batch.mentions[0]
    assert first.raw["data"]["itunes_duration"] == "7:04"
    assert first.raw["data"]["published_parsed"] == "2005-06-15T19:00:00+00:00"
    assert first.created_at == datetime(2005, 6, 15, 19, 0, tzinfo=UTC)


@responses.activate
def test_an_undated_item_gets_the_fetch_time_and_says_it_is_estimated():
    # the podcast feed with its last item's <pubDate> taken out
    body = fixture("feedjira_itunes.xml").replace(b"<pubDate>Wed, 1 Jun 2005 19:00:00 GMT</pubDate>", b"")
    responses.get(PODCAST_URL, body=body, content_type=RSS_TYPE)
    before = datetime.now(UTC)
    dated, _, undated = connector(PODCAST_URL, keywords=(), brand_feed=True).fetch(None).mentions
    assert undated.created_at == undated.fetched_at and undated.created_at >= before
    assert undated.raw["_mentiondesk"]["created_at_estimated"] is True
    assert "_mentiondesk" not in dated.raw


def test_raw_payload_values_are_made_json_safe():
    import time as _time

    from connectors.rss import _plain

    odd = {
        "ok": _time.struct_time((2005, 6, 15, 19, 0, 0, 2, 166, 0)),
        "nan": float("nan"),
        "blob": b"caf\xc3\xa9\x00",
        "nul": "a\x00b",
        "tags": ("x", {"y"}),
        "obj": object,
    }
    plain = _plain(odd)
    json.dumps(plain, allow_nan=False)
    assert plain["ok"] == "2005-06-15T19:00:00+00:00" and plain["nan"] is None
    assert plain["blob"] == "café" and plain["nul"] == "ab" and plain["tags"] == ["x", ["y"]]
