"""Mastodon connector through the real Mastodon.py client against hand-built API payloads (responses)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from connectors.base import (
    REASON_BRAND_POST,
    REASON_LISTEN_ONLY,
    REASON_REPLYABLE,
    AuthError,
    FatalError,
    RetriableError,
)
from connectors.mastodon import MastodonConfig, MastodonConnector

INSTANCE = "https://mastodon.example"
NOTIFICATIONS = f"{INSTANCE}/api/v1/notifications"
BRAND_ID = "109000000000000001"
FIXTURE = json.loads((Path(__file__).parent / "fixtures/mastodon/notification_mention.json").read_text())


def notification(nid: int, sid: int, content: str = "<p>hello @acmeair</p>", **status_fields) -> dict:
    item = copy.deepcopy(FIXTURE)
    item["id"] = str(nid)
    item["status"]["id"] = str(sid)
    item["status"]["content"] = content
    item["status"].update(status_fields)
    return item


def status_of(sid: int, account_id: str = "42", content: str = "<p>#acme rocks</p>", **fields) -> dict:
    status = copy.deepcopy(FIXTURE["status"])
    status.update(id=str(sid), content=content, **fields)
    status["account"]["id"] = account_id
    return status


def instance_allows_hashtag_feeds() -> None:
    """Mastodon.py checks /api/v2/instance before reading a hashtag timeline (Mastodon 4.4+)."""
    feeds = {"local": "public", "remote": "public"}
    responses.get(
        f"{INSTANCE}/api/v2/instance",
        json={
            "domain": "mastodon.example",
            "title": "Example",
            "version": "4.4.0",
            "configuration": {
                "timelines_access": {
                    "live_feeds": feeds,
                    "hashtag_feeds": feeds,
                    "trending_link_feeds": feeds,
                }
            },
        },
    )


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(sleeps: Sleeps | None = None, **config) -> MastodonConnector:
    cfg = MastodonConfig(instance_url=INSTANCE, access_token="tok", account_id=BRAND_ID, **config)
    return MastodonConnector(cfg, sleep=sleeps if sleeps is not None else Sleeps())


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


@responses.activate
def test_maps_a_mention_notification_to_a_replyable_mention():
    responses.get(NOTIFICATIONS, json=[FIXTURE])
    batch = connector().fetch(None)
    assert batch.next_cursor == "34975861"
    assert batch.has_more is False
    [m] = batch.mentions
    assert m.external_id == "113014395126722110"
    assert m.text == "@acmeair my bag never arrived & nobody answers\n\nflight AA12"
    assert m.author is not None and m.author.handle == "jen@fosstodon.org"
    assert m.author.display_name == "Jen \U0001f33f"
    assert m.author.followers == 412
    assert (m.replyable, m.replyable_reason, m.is_brand_post) == (True, REASON_REPLYABLE, False)
    assert m.conversation_id == m.external_id and m.in_reply_to_id is None
    assert (m.metrics.likes, m.metrics.reposts, m.metrics.replies) == (5, 2, 1)
    assert m.created_at.isoformat() == "2026-03-02T09:15:03+00:00"
    assert m.url == "https://fosstodon.org/@jen/113014395126722110"
    assert m.raw["_meta"]["url"] == NOTIFICATIONS
    assert m.raw["data"]["status"]["visibility"] == "public"
    json.dumps(m.raw)  # the stamped payload is plain JSON
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok"
    assert query(responses.calls[0])["types[]"] == ["mention"]
    assert "min_id" not in query(responses.calls[0])


@responses.activate
def test_pages_forward_with_min_id_across_several_pages_and_resumes_from_the_cursor():
    responses.get(NOTIFICATIONS, json=[notification(12, 1012), notification(11, 1011)])
    responses.get(NOTIFICATIONS, json=[notification(14, 1014), notification(13, 1013)])
    responses.get(NOTIFICATIONS, json=[notification(15, 1015)])
    conn = connector()
    first = conn.fetch("10", limit=2)
    assert [m.external_id for m in first.mentions] == ["1011", "1012"]
    assert (first.next_cursor, first.has_more) == ("12", True)
    second = conn.fetch(first.next_cursor, limit=2)
    assert (second.next_cursor, second.has_more) == ("14", True)
    # a fresh process resumes from the persisted cursor
    third = connector().fetch(second.next_cursor, limit=2)
    assert [m.external_id for m in third.mentions] == ["1015"]
    assert (third.next_cursor, third.has_more) == ("15", False)
    assert [query(c)["min_id"] for c in responses.calls] == [["10"], ["12"], ["14"]]
    assert query(responses.calls[0])["limit"] == ["2"]


@responses.activate
def test_an_empty_page_keeps_the_cursor():
    responses.get(NOTIFICATIONS, json=[])
    batch = connector().fetch("77")
    assert (batch.mentions, batch.next_cursor, batch.has_more) == ([], "77", False)


@responses.activate
def test_a_reply_is_threaded_on_its_root_from_the_context_endpoint():
    responses.get(NOTIFICATIONS, json=[notification(20, 2020, in_reply_to_id="2000")])
    responses.get(
        f"{INSTANCE}/api/v1/statuses/2020/context",
        json={"ancestors": [status_of(1990), status_of(2000)], "descendants": []},
    )
    [m] = connector().fetch("19").mentions
    assert (m.conversation_id, m.in_reply_to_id) == ("1990", "2000")


@responses.activate
def test_hashtag_timeline_is_listen_only_and_brand_posts_are_the_brands():
    url = f"{INSTANCE}/api/v1/timelines/tag/acme"
    instance_allows_hashtag_feeds()
    responses.get(url, json=[status_of(502), status_of(501, account_id=BRAND_ID)])
    batch = connector(source="hashtag", hashtag="#acme").fetch("500")
    by_id = {m.external_id: m for m in batch.mentions}
    assert (by_id["502"].replyable, by_id["502"].replyable_reason) == (False, REASON_LISTEN_ONLY)
    assert (by_id["501"].is_brand_post, by_id["501"].replyable_reason) == (True, REASON_BRAND_POST)
    assert batch.next_cursor == "502"
    assert by_id["502"].raw["_meta"]["url"] == url


@responses.activate
def test_brand_post_in_notifications_is_never_replyable():
    item = notification(30, 3030)
    item["status"]["account"]["id"] = BRAND_ID
    responses.get(NOTIFICATIONS, json=[item])
    [m] = connector().fetch("29").mentions
    assert m.is_brand_post and not m.replyable


@responses.activate
def test_429_with_reset_header_is_waited_out_through_the_sleeper():
    reset = int(time.time()) + 30
    responses.get(
        NOTIFICATIONS,
        status=429,
        json={"error": "Too many requests"},
        headers={"X-RateLimit-Reset": str(reset), "X-RateLimit-Remaining": "0"},
    )
    responses.get(NOTIFICATIONS, json=[notification(41, 4041)])
    sleeps = Sleeps()
    batch = connector(sleeps).fetch("40")
    assert [m.external_id for m in batch.mentions] == ["4041"]
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 32


@responses.activate
def test_a_429_that_never_clears_becomes_retriable_after_capped_waits():
    reset = int(time.time()) + 3600
    responses.get(
        NOTIFICATIONS,
        status=429,
        json={"error": "Too many requests"},
        headers={"X-RateLimit-Reset": str(reset)},
    )
    sleeps = Sleeps()
    with pytest.raises(RetriableError) as info:
        connector(sleeps, attempts=3).fetch("40")
    assert info.value.status == 429 and 3500 < (info.value.retry_after or 0) <= 3602
    assert sleeps == [305.0, 305.0]  # each wait capped at Mastodon's 5-minute window
    assert len(responses.calls) == 3


@responses.activate
def test_5xx_is_retried_with_backoff_then_succeeds():
    responses.get(NOTIFICATIONS, status=503, body="upstream down")
    responses.get(NOTIFICATIONS, status=502, body="bad gateway")
    responses.get(NOTIFICATIONS, json=[notification(51, 5051)])
    sleeps = Sleeps()
    batch = connector(sleeps).fetch("50")
    assert [m.external_id for m in batch.mentions] == ["5051"]
    assert len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)


@responses.activate
def test_persistent_5xx_becomes_retriable_error():
    responses.get(NOTIFICATIONS, status=500, json={"error": "boom"})
    with pytest.raises(RetriableError) as info:
        connector().fetch("50")
    assert info.value.status == 500 and "gave up after 4 attempts" in str(info.value)
    assert len(responses.calls) == 4


@responses.activate
@pytest.mark.parametrize(("status", "words"), [(401, "create a new one"), (403, "write:statuses")])
def test_auth_failures_raise_auth_error_with_plain_reason(status, words):
    responses.get(NOTIFICATIONS, status=status, json={"error": "The access token is invalid"})
    with pytest.raises(AuthError) as info:
        connector().fetch(None)
    assert words in str(info.value) and info.value.status == status
    assert len(responses.calls) == 1


@responses.activate
def test_malformed_items_are_skipped_with_their_id_and_the_rest_kept(caplog):
    deleted = notification(61, 6061)
    deleted["status"] = None
    authorless = notification(62, 6062)
    del authorless["status"]["account"]
    long_text = "é" * 1000 + "🚀" * 1000 + "x" * 2000
    items = [
        deleted,
        authorless,
        notification(63, 6063, content="<p>🛫✈️👍🏽 family 👨‍👩‍👧 &lt;b&gt;</p>"),
        notification(64, 6064, content="<p>null\x00byte \u202etxet desrever Z\u0351\u0352\u0353algo</p>"),
        notification(65, 6065, content=f"<p>{long_text}</p>"),
    ]
    responses.get(NOTIFICATIONS, json=items)
    with caplog.at_level("WARNING"):
        batch = connector().fetch("60")
    assert {s.external_id for s in batch.skipped} == {"61", "6062"}
    assert "deleted" in batch.skipped[0].reason
    kept = {m.external_id: m.text for m in batch.mentions}
    assert kept["6063"] == "🛫✈️👍🏽 family 👨‍👩‍👧 <b>"
    assert kept["6064"] == "nullbyte \u202etxet desrever Z\u0351\u0352\u0353algo"
    assert kept["6065"] == long_text and len(kept["6065"]) == 4000
    assert batch.next_cursor == "65" and batch.reads == 5
    assert "6062" in caplog.text and "61" in caplog.text


@responses.activate
def test_the_same_post_delivered_twice_is_one_mention():
    responses.get(NOTIFICATIONS, json=[notification(72, 7070), notification(71, 7070)])
    batch = connector().fetch("70")
    assert [m.external_id for m in batch.mentions] == ["7070"]
    assert batch.next_cursor == "72"


@responses.activate
def test_reply_keeps_visibility_addresses_the_author_and_sends_the_idempotency_key():
    responses.get(NOTIFICATIONS, json=[notification(81, 8081, visibility="private")])
    [mention] = connector().fetch("80").mentions
    posted = status_of(8090, account_id=BRAND_ID, in_reply_to_id="8081")
    responses.post(f"{INSTANCE}/api/v1/statuses", json=posted)
    reply = connector().reply(mention, "Sorry Jen, we're on it.", idempotency_key="out-1")
    assert reply.external_id == "8090" and reply.url == posted["url"]
    request = responses.calls[-1].request
    sent = parse_qs(request.body)
    assert sent["status"] == ["@jen@fosstodon.org Sorry Jen, we're on it."]
    assert sent["in_reply_to_id"] == ["8081"] and sent["visibility"] == ["private"]
    assert request.headers["Idempotency-Key"] == "out-1"


@responses.activate
def test_reply_to_listen_only_post_is_refused_without_calling_the_api():
    instance_allows_hashtag_feeds()
    responses.get(f"{INSTANCE}/api/v1/timelines/tag/acme", json=[status_of(901)])
    [mention] = connector(source="hashtag", hashtag="acme").fetch("900").mentions
    with pytest.raises(FatalError):
        connector().reply(mention, "hi", idempotency_key="k")
    assert not any(c.request.method == "POST" for c in responses.calls)


@responses.activate
def test_find_reply_spots_our_earlier_reply_in_the_thread():
    responses.get(NOTIFICATIONS, json=[notification(91, 9091)])
    [mention] = connector().fetch("90").mentions
    ours = status_of(
        9095,
        account_id=BRAND_ID,
        in_reply_to_id="9091",
        content="<p><a href='x'>@jen@fosstodon.org</a> Sorry   Jen</p>",
    )
    other = status_of(9096, in_reply_to_id="9091", content="<p>Sorry Jen</p>")
    context = f"{INSTANCE}/api/v1/statuses/9091/context"
    responses.get(context, json={"ancestors": [], "descendants": [other, ours]})
    found = connector().find_reply(mention, "Sorry Jen")
    assert found is not None and found.external_id == "9095"
    responses.replace(responses.GET, context, json={"ancestors": [], "descendants": [other]})
    assert connector().find_reply(mention, "Sorry Jen") is None


@responses.activate
def test_a_recorded_hashtag_timeline_page_maps_through_mastodon_py():
    """Mastodon.py's own cassette (tests/fixtures/mastodon/mastodonpy_hashtag_tl.json names it)."""
    recorded = json.loads((Path(__file__).parent / "fixtures/mastodon/mastodonpy_hashtag_tl.json").read_text())
    instance_allows_hashtag_feeds()
    responses.get(
        f"{INSTANCE}/api/v1/timelines/tag/hoot", json=recorded["body"], headers=recorded["_origin"]["headers"]
    )
    batch = connector(source="hashtag", hashtag="hoot").fetch(None)
    [m] = batch.mentions
    assert (m.external_id, m.text) == ("109440153064280358", "#hoot (hashtag toot)")
    assert m.created_at.isoformat() == "2022-12-01T19:50:10.577000+00:00"
    assert m.author is not None and (m.author.handle, m.author.display_name) == ("mastodonpy_test", "John Lennon")
    assert (m.replyable, m.replyable_reason) == (False, REASON_LISTEN_ONLY)
    assert m.conversation_id == m.external_id and m.language == "ja"
    json.dumps(m.raw, allow_nan=False)
    assert batch.next_cursor == "109440153064280358"


@responses.activate
def test_a_count_no_integer_can_hold_does_not_cost_the_page():
    """Infinity (``1e400`` parses to it) or a word as a count: Mastodon.py reads it as 0, every post is kept."""
    items = [notification(71, 7071, favourites_count=float("inf")), notification(72, 7072, reblogs_count="lots")]
    responses.get(NOTIFICATIONS, json=items)
    batch = connector().fetch("70")
    assert [(m.external_id, m.metrics.likes, m.metrics.reposts) for m in batch.mentions] == [
        ("7071", 0, 2),
        ("7072", 5, 0),
    ]
    assert batch.skipped == []
