"""Reddit connector through the real praw/prawcore stack, with Reddit's HTTP API mocked by `responses`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from connectors.base import (
    REASON_BRAND_POST,
    REASON_DELETED_AUTHOR,
    REASON_LISTEN_ONLY,
    REASON_REPLYABLE,
    AuthError,
    FatalError,
    RetriableError,
)
from connectors.reddit import RedditConfig, RedditConnector

TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
OAUTH = "https://oauth.reddit.com"
MENTIONS = f"{OAUTH}/message/mentions"
FIXTURE = json.loads((Path(__file__).parent / "fixtures/reddit/mention.json").read_text())
TOKEN = {"access_token": "eyJhbGciOi-test-token", "token_type": "bearer", "expires_in": 86400, "scope": "*"}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(sleeps: Sleeps | None = None, **config) -> RedditConnector:
    cfg = RedditConfig(client_id="cid", client_secret="csecret", username="acmeair", password="pw", **config)
    return RedditConnector(cfg, sleep=sleeps if sleeps is not None else Sleeps())


def token() -> None:
    responses.post(TOKEN_URL, json=TOKEN)


def mention(base36: str, body: str = "u/acmeair help", **fields) -> dict:
    item = copy.deepcopy(FIXTURE)
    item["data"].update(id=base36, name=f"t1_{base36}", body=body, **fields)
    return item


def submission(base36: str, title: str = "AcmeAir lost my bag", author: str = "someone", **fields) -> dict:
    data = {
        "id": base36,
        "name": f"t3_{base36}",
        "title": title,
        "selftext": "",
        "author": author,
        "author_fullname": "t2_x",
        "created_utc": 1772443300.0,
        "score": 12,
        "num_comments": 4,
        "subreddit": "travel",
        "permalink": f"/r/travel/comments/{base36}/acmeair/",
        "over_18": False,
        "removed_by_category": None,
        "url": f"https://www.reddit.com/r/travel/comments/{base36}/acmeair/",
    }
    data.update(fields)
    return {"kind": "t3", "data": data}


def listing(children: list[dict], before: str | None = None, after: str | None = None) -> dict:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": None,
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    }


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


def api_calls() -> list:
    return [c for c in responses.calls if c.request.url.startswith(OAUTH)]


@responses.activate
def test_authenticates_with_the_password_grant_and_maps_a_mention():
    token()
    responses.get(MENTIONS, json=listing([FIXTURE]))
    batch = connector().fetch(None)
    [m] = batch.mentions
    assert m.external_id == "t1_kx7ab2q" and m.text.startswith("u/acmeair my flight was cancelled")
    assert m.author is not None and (m.author.handle, m.author.external_id) == ("wanderlust_jo", "t2_8kq2m1")
    assert (m.conversation_id, m.in_reply_to_id) == ("t3_1b2c3d", "t3_1b2c3d")
    assert (m.replyable, m.replyable_reason, m.is_brand_post) == (True, REASON_REPLYABLE, False)
    assert m.created_at.isoformat() == "2026-03-02T09:20:00+00:00"
    assert m.url == "https://www.reddit.com/r/travel/comments/1b2c3d/anyone_else_stuck_at_ord_today/kx7ab2q/?context=3"
    assert m.raw["_meta"]["url"] == MENTIONS and m.raw["data"]["kind"] == "t1"
    assert (batch.next_cursor, batch.has_more) == ("t1_kx7ab2q", False)
    token_call = responses.calls[0].request
    assert parse_qs(token_call.body) == {"grant_type": ["password"], "username": ["acmeair"], "password": ["pw"]}
    assert token_call.headers["Authorization"].startswith("Basic ")
    [call] = api_calls()
    assert call.request.headers["Authorization"] == "bearer eyJhbGciOi-test-token"
    assert "before" not in query(call) and query(call)["raw_json"] == ["1"]


@responses.activate
def test_pages_forward_with_before_and_resumes_from_the_fullname():
    token()
    responses.get(MENTIONS, json=listing([mention("a2"), mention("a1")]))
    responses.get(MENTIONS, json=listing([mention("a4"), mention("a3")]))
    responses.get(MENTIONS, json=listing([mention("a5")]))
    first = connector().fetch("t1_a0", limit=2)
    assert [m.external_id for m in first.mentions] == ["t1_a2", "t1_a1"]
    assert (first.next_cursor, first.has_more) == ("t1_a2", True)
    second = connector().fetch(first.next_cursor, limit=2)
    assert (second.next_cursor, second.has_more) == ("t1_a4", True)
    third = connector().fetch(second.next_cursor, limit=2)
    assert (third.next_cursor, third.has_more, len(third.mentions)) == ("t1_a5", False, 1)
    assert [query(c)["before"] for c in api_calls()] == [["t1_a0"], ["t1_a2"], ["t1_a4"]]
    assert query(api_calls()[0])["limit"] == ["2"]


@responses.activate
def test_an_empty_listing_keeps_the_cursor():
    token()
    responses.get(MENTIONS, json=listing([]))
    batch = connector().fetch("t1_zz")
    assert (batch.mentions, batch.next_cursor, batch.has_more) == ([], "t1_zz", False)


@responses.activate
def test_subreddit_and_search_are_listen_only_and_brand_posts_are_marked():
    token()
    responses.get(f"{OAUTH}/r/travel/new", json=listing([submission("s2"), submission("s1", author="AcmeAir")]))
    responses.get(f"{OAUTH}/search", json=listing([submission("s3", selftext="Body text 🙂")]))
    sub = connector(source="subreddit", subreddit="r/travel").fetch(None)
    theirs, ours = sub.mentions
    assert (theirs.replyable, theirs.replyable_reason) == (False, REASON_LISTEN_ONLY)
    assert (theirs.metrics.likes, theirs.metrics.replies, theirs.conversation_id) == (12, 4, "t3_s2")
    assert (ours.is_brand_post, ours.replyable_reason) == (True, REASON_BRAND_POST)
    [hit] = connector(source="search", query='"acme air" OR acmeair').fetch(None).mentions
    assert hit.text == "AcmeAir lost my bag\n\nBody text 🙂" and not hit.replyable
    search_call = api_calls()[-1]
    assert query(search_call)["q"] == ['"acme air" OR acmeair'] and query(search_call)["sort"] == ["new"]


@responses.activate
def test_429_with_reset_seconds_is_waited_out():
    token()
    responses.get(
        MENTIONS,
        status=429,
        json={"message": "Too Many Requests", "error": 429},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-used": "100", "x-ratelimit-reset": "37"},
    )
    responses.get(
        MENTIONS,
        json=listing([mention("r1")]),
        headers={"x-ratelimit-remaining": "99", "x-ratelimit-used": "1", "x-ratelimit-reset": "600"},
    )
    sleeps = Sleeps()
    batch = connector(sleeps).fetch(None)
    assert [m.external_id for m in batch.mentions] == ["t1_r1"]
    assert len(sleeps) == 1 and 37 <= sleeps[0] <= 39  # one wait, not prawcore's plus ours


@responses.activate
def test_5xx_is_retried_by_the_connector_then_becomes_retriable():
    token()
    responses.get(MENTIONS, status=503, body="upstream connect error")
    responses.get(MENTIONS, status=500, json={"message": "Internal Server Error", "error": 500})
    responses.get(MENTIONS, json=listing([mention("f1")]))
    sleeps = Sleeps()
    assert len(connector(sleeps).fetch(None).mentions) == 1
    assert len(sleeps) == 2 and all(0 < s <= 60 for s in sleeps)
    responses.replace(responses.GET, MENTIONS, status=502, body="bad gateway")
    with pytest.raises(RetriableError) as info:
        connector(attempts=2).fetch(None)
    assert info.value.status == 502


@responses.activate
def test_bad_password_is_an_auth_error_with_a_reason():
    responses.post(TOKEN_URL, json={"error": "invalid_grant"})
    with pytest.raises(AuthError) as info:
        connector().fetch(None)
    assert "password" in str(info.value) and info.value.status == 401
    assert api_calls() == []


@responses.activate
def test_revoked_token_401_is_an_auth_error():
    token()
    responses.get(
        MENTIONS,
        status=401,
        json={"message": "Unauthorized", "error": 401},
        headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
    )
    with pytest.raises(AuthError) as info:
        connector().fetch(None)
    assert info.value.status == 401 and "client id and secret" in str(info.value)


@responses.activate
def test_malformed_items_are_skipped_duplicates_dropped_and_the_rest_kept(caplog):
    token()
    deleted = mention("m1", body="[deleted]", author="[deleted]")
    no_author = mention("m2")
    del no_author["data"]["author"]
    no_name = mention("m3")
    del no_name["data"]["name"]
    long_text = "u/acmeair " + "ß" * 990 + "🛫" * 3000
    children = [
        deleted,
        no_author,
        no_name,
        mention("m4", body="emoji 👩🏽‍✈️ and odd \u200b\u202e\x07 text"),
        mention("m4", body="emoji 👩🏽‍✈️ and odd \u200b\u202e\x07 text"),
        mention("m5", body=long_text),
    ]
    responses.get(MENTIONS, json=listing(children))
    with caplog.at_level("WARNING"):
        batch = connector().fetch("t1_m0")
    assert [s.external_id for s in batch.skipped] == ["t1_m1", None]  # text deleted; no fullname
    assert [m.external_id for m in batch.mentions] == ["t1_m2", "t1_m4", "t1_m5"]
    no_author = batch.mentions[0]  # its text is intact: kept, under the deleted author
    assert no_author.author is not None and (no_author.author.handle, no_author.author.external_id) == (
        "[deleted]",
        "deleted",
    )
    assert batch.mentions[1].text == "emoji 👩🏽‍✈️ and odd \u200b\u202e text"
    assert batch.mentions[2].text == long_text and len(long_text) == 4000
    assert batch.next_cursor == "t1_m5" and batch.reads == 6
    assert "t1_m1" in caplog.text


@responses.activate
def test_reply_posts_a_comment_under_the_mention():
    token()
    responses.get(MENTIONS, json=listing([FIXTURE]))
    [m] = connector().fetch(None).mentions
    posted = {
        "json": {
            "errors": [],
            "data": {
                "things": [
                    {
                        "kind": "t1",
                        "data": {
                            "id": "kx8zz01",
                            "name": "t1_kx8zz01",
                            "author": "acmeair",
                            "body": "Sorry Jo, DM us your booking.",
                            "parent_id": "t1_kx7ab2q",
                            "link_id": "t3_1b2c3d",
                            "created_utc": 1772443500.0,
                            "permalink": "/r/travel/comments/1b2c3d/anyone_else_stuck_at_ord_today/kx8zz01/",
                            "subreddit": "travel",
                        },
                    }
                ]
            },
        }
    }
    responses.post(f"{OAUTH}/api/comment/", json=posted)
    reply = connector().reply(m, "Sorry Jo, DM us your booking.", idempotency_key="k1")
    assert reply.external_id == "t1_kx8zz01"
    assert reply.url == "https://www.reddit.com/r/travel/comments/1b2c3d/anyone_else_stuck_at_ord_today/kx8zz01/"
    sent = parse_qs(api_calls()[-1].request.body)
    assert sent["thing_id"] == ["t1_kx7ab2q"] and sent["text"] == ["Sorry Jo, DM us your booking."]


@responses.activate
def test_reply_to_a_locked_thread_is_fatal():
    token()
    responses.get(MENTIONS, json=listing([FIXTURE]))
    [m] = connector().fetch(None).mentions
    responses.post(
        f"{OAUTH}/api/comment/", json={"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}}
    )
    with pytest.raises(FatalError, match="will not take a reply"):
        connector().reply(m, "hi", idempotency_key="k")


@responses.activate
def test_find_reply_checks_the_brand_accounts_comments():
    token()
    responses.get(MENTIONS, json=listing([FIXTURE]))
    [m] = connector().fetch(None).mentions
    ours = {
        "kind": "t1",
        "data": {
            "name": "t1_kx8zz01",
            "parent_id": "t1_kx7ab2q",
            "body": "Sorry  Jo",
            "created_utc": 1772443500.0,
            "permalink": "/r/travel/comments/1b2c3d/x/kx8zz01/",
        },
    }
    responses.get(f"{OAUTH}/user/acmeair/comments", json=listing([ours]))
    found = connector().find_reply(m, "Sorry Jo")
    assert found is not None and found.external_id == "t1_kx8zz01"
    assert connector().find_reply(m, "Something else") is None


def test_listen_only_items_cannot_be_replied_to():
    from datetime import UTC, datetime

    from connectors.base import Mention

    item = Mention(platform="reddit", external_id="t3_s1", text="x", created_at=datetime.now(UTC))
    with pytest.raises(FatalError):
        connector().reply(item, "hi", idempotency_key="k")


# --- real recorded payloads (praw's own cassettes; see tests/fixtures/reddit/praw_cassettes.json) ---

PRAW = json.loads((Path(__file__).parent / "fixtures/reddit/praw_cassettes.json").read_text(encoding="utf-8"))


def recorded(name: str, **changes) -> dict:
    item = copy.deepcopy(PRAW[name])
    item["data"].update(changes)
    return item


@responses.activate
def test_a_recorded_inbox_mention_maps_through_praw():
    token()
    responses.get(MENTIONS, json=listing([recorded("inbox_mention")]))
    [m] = connector().fetch(None).mentions
    assert (m.external_id, m.text) == ("t1_da2g9oh", "But seriously, /u/pyapitestuser2, donde esta?")
    assert m.author is not None and m.author.handle == "PyAPITestUser3"
    assert (m.conversation_id, m.in_reply_to_id) == ("t3_5d7tk7", "t3_5d7tk7")
    assert m.replyable and m.metrics.replies == 0


@responses.activate
def test_a_comments_replies_are_its_own_never_the_submissions_comment_count():
    token()
    # Reddit's inbox now also sends the submission's num_comments with each comment (here 141)
    inbox = recorded("inbox_mention", num_comments=141, score=3)
    nested = recorded("comment_with_replies", num_comments=41)
    responses.get(MENTIONS, json=listing([nested, inbox]))
    with_replies, mention = connector().fetch(None).mentions
    assert mention.metrics.replies == 0  # its replies were not loaded: unknown, not 141
    assert with_replies.metrics.replies == 2 + 5  # two loaded replies and the five ids of a "more" stub
    assert with_replies.metrics.likes == 63


@responses.activate
def test_a_submission_keeps_its_comment_count():
    token()
    responses.get(f"{OAUTH}/r/travel/new", json=listing([submission("s9", num_comments=141)]))
    [post] = connector(source="subreddit", subreddit="travel").fetch(None).mentions
    assert post.metrics.replies == 141


@responses.activate
def test_a_deleted_account_keeps_its_words_under_the_deleted_author_and_is_not_queued():
    token()
    # what Reddit serves once the author deleted the account: author "[deleted]", no author_fullname
    gone = recorded("comment_with_replies", author="[deleted]")
    del gone["data"]["author_fullname"]
    responses.get(MENTIONS, json=listing([gone, recorded("deleted_comment")]))
    batch = connector().fetch(None)
    [m] = batch.mentions
    assert m.text == "Please don't make me send your bot to a farm upstate.\n\nYou know I'll do it."
    assert m.author is not None and (m.author.external_id, m.author.handle) == ("deleted", "[deleted]")
    assert (m.replyable, m.replyable_reason, m.is_brand_post) == (False, REASON_DELETED_AUTHOR, False)
    # the comment whose text is gone too is still skipped
    assert [(s.external_id, s.reason) for s in batch.skipped] == [("t1_d7ltvl0", "post was removed or deleted")]


@responses.activate
def test_a_negative_score_is_no_likes_and_the_score_is_kept_in_raw():
    token()
    responses.get(MENTIONS, json=listing([recorded("inbox_mention", score=-4)]))
    [m] = connector().fetch(None).mentions
    assert m.metrics.likes == 0
    assert m.raw["_mentiondesk"]["score"] == -4 and m.raw["data"]["data"]["score"] == -4
