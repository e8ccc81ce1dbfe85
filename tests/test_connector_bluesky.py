"""Bluesky connector through the real atproto Client against a fake XRPC server on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from connectors.base import (
    REASON_BRAND_POST,
    REASON_LISTEN_ONLY,
    REASON_REPLYABLE,
    AuthError,
    FatalError,
    RetriableError,
)
from connectors.bluesky import BlueskyConfig, BlueskyConnector

BRAND_DID = "did:plc:brand0000000000000000000"
FIXTURE = json.loads((Path(__file__).parent / "fixtures/bluesky/notification_reply.json").read_text())
LIST = "app.bsky.notification.listNotifications"
SEARCH = "app.bsky.feed.searchPosts"


def jwt(exp_in: int = 3600) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    payload = {
        "scope": "com.atproto.appPass",
        "sub": BRAND_DID,
        "iat": int(time.time()),
        "exp": int(time.time()) + exp_in,
        "aud": "did:web:pds.example",
    }
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(payload)}.c2lnbmF0dXJl"


SESSION = {
    "did": BRAND_DID,
    "handle": "acmeair.com",
    "accessJwt": jwt(),
    "refreshJwt": jwt(86400),
    "active": True,
}


class FakeXrpc:
    """Scripted answers per NSID, consumed in order (the last one repeats); every request recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, dict, object]]] = defaultdict(list)
        self.requests: list[dict] = []
        self.on("com.atproto.server.createSession", json_body=SESSION)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                self._answer(None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(json.loads(self.rfile.read(length) or b"null"))

            def _answer(self, body):
                url = urlparse(self.path)
                nsid = url.path.removeprefix("/xrpc/")
                fake.requests.append(
                    {
                        "nsid": nsid,
                        "query": parse_qs(url.query),
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                script = fake.routes.get(nsid) or [(404, {}, {"error": "MethodNotImplemented"})]
                status, headers, payload = script.pop(0) if len(script) > 1 else script[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def on(self, nsid: str, *, status: int = 200, headers: dict | None = None, json_body: object = None) -> None:
        self.routes[nsid].append((status, headers or {}, json_body if json_body is not None else {}))

    def calls(self, nsid: str) -> list[dict]:
        return [r for r in self.requests if r["nsid"] == nsid]


@pytest.fixture
def xrpc():
    fake = FakeXrpc()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(xrpc: FakeXrpc, sleeps: Sleeps | None = None, **config) -> BlueskyConnector:
    cfg = BlueskyConfig(
        handle="acmeair.com", app_password="app-pass", account_did=BRAND_DID, base_url=xrpc.url, **config
    )
    return BlueskyConnector(cfg, sleep=sleeps if sleeps is not None else Sleeps())


def note(rkey: str, indexed: str, *, reason: str = "mention", text: str = "@acmeair.com help", **extra) -> dict:
    item = copy.deepcopy(FIXTURE)
    item["uri"] = f"at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/{rkey}"
    item["cid"] = f"bafycid{rkey}"
    item["reason"] = reason
    item["indexedAt"] = indexed
    item["record"]["text"] = text
    if reason == "mention":
        del item["record"]["reply"]
    item.update(extra)
    return item


def page(items: list[dict], cursor: str | None = None) -> dict:
    body: dict = {"notifications": items, "priority": False, "seenAt": "2026-03-02T09:00:00.000Z"}
    if cursor:
        body["cursor"] = cursor
    return body


def strip_types(value):
    """The client tags each strong ref with its lexicon $type; compare the refs themselves."""
    if isinstance(value, dict):
        return {k: strip_types(v) for k, v in value.items() if k != "$type"}
    return value


def T(minute: int) -> str:
    return f"2026-03-02T10:{minute:02d}:00.000Z"


def test_maps_a_reply_notification_with_its_thread_refs(xrpc):
    xrpc.on(LIST, json_body=page([FIXTURE], cursor="c1"))
    batch = connector(xrpc).fetch(None)
    [m] = batch.mentions
    assert m.external_id == FIXTURE["uri"]
    assert m.text == "@acmeair.com mi maleta sigue perdida 😡"
    assert m.conversation_id == FIXTURE["record"]["reply"]["root"]["uri"]
    assert m.in_reply_to_id == FIXTURE["record"]["reply"]["parent"]["uri"]
    assert m.author is not None and (m.author.handle, m.author.display_name) == (
        "maria.bsky.social",
        "María 🌊",
    )
    assert (m.replyable, m.replyable_reason, m.is_brand_post) == (True, REASON_REPLYABLE, False)
    assert m.language == "es" and m.created_at.isoformat() == "2026-03-02T09:41:12.512000+00:00"
    assert m.url == "https://bsky.app/profile/maria.bsky.social/post/3lbvkq2ndzs2c"
    assert m.raw["_meta"]["url"] == f"{xrpc.url}/xrpc/{LIST}" and m.raw["data"]["cid"] == FIXTURE["cid"]
    # first run: one page of backfill, the watermark is the newest indexedAt
    assert batch.has_more is False
    assert json.loads(batch.next_cursor or "") == {
        "watermark": FIXTURE["indexedAt"],
        "page": None,
        "walk_newest": None,
    }
    [login] = xrpc.calls("com.atproto.server.createSession")
    assert login["body"] == {"identifier": "acmeair.com", "password": "app-pass"}
    [listed] = xrpc.calls(LIST)
    assert listed["query"]["reasons"] == ["mention", "reply"] and listed["auth"] == f"Bearer {SESSION['accessJwt']}"


def test_walks_pages_down_to_the_watermark_then_resumes_from_it(xrpc):
    watermark = json.dumps({"watermark": T(0)})
    xrpc.on(LIST, json_body=page([note("p5", T(5)), note("p4", T(4))], cursor="c1"))
    xrpc.on(LIST, json_body=page([note("p3", T(3)), note("p2", T(2))], cursor="c2"))
    xrpc.on(LIST, json_body=page([note("p1", T(1)), note("p0", T(0))], cursor="c3"))
    conn = connector(xrpc)
    first = conn.fetch(watermark, limit=2)
    assert [m.external_id[-2:] for m in first.mentions] == ["p5", "p4"] and first.has_more
    assert json.loads(first.next_cursor or "")["watermark"] == T(0)  # not advanced mid-walk
    # a new process resumes the walk from the stored cursor
    second = connector(xrpc).fetch(first.next_cursor, limit=2)
    assert [m.external_id[-2:] for m in second.mentions] == ["p3", "p2"] and second.has_more
    third = connector(xrpc).fetch(second.next_cursor, limit=2)
    assert [m.external_id[-2:] for m in third.mentions] == ["p1"]  # p0 is at the watermark: already stored
    assert third.has_more is False
    assert json.loads(third.next_cursor or "") == {"watermark": T(5), "page": None, "walk_newest": None}
    assert [c["query"].get("cursor") for c in xrpc.calls(LIST)] == [None, ["c1"], ["c2"]]
    assert [c["query"]["limit"] for c in xrpc.calls(LIST)] == [["2"]] * 3
    # the next poll starts at the top again and stops at the new watermark
    xrpc.routes[LIST] = [(200, {}, page([note("p6", T(6)), note("p5", T(5))], cursor="c9"))]
    fourth = connector(xrpc).fetch(third.next_cursor, limit=2)
    assert [m.external_id[-2:] for m in fourth.mentions] == ["p6"] and fourth.has_more is False


def test_search_is_listen_only_with_metrics_and_brand_posts_marked(xrpc):
    hit = {k: v for k, v in note("s1", T(7), reason="mention").items() if k not in {"reason", "isRead"}}
    hit.update(replyCount=2, repostCount=3, likeCount=11, quoteCount=1)
    own = copy.deepcopy(hit)
    own.update(uri=f"at://{BRAND_DID}/app.bsky.feed.post/s0", indexedAt=T(6))
    own["author"] = {"did": BRAND_DID, "handle": "acmeair.com", "displayName": "AcmeAir"}
    xrpc.on(SEARCH, json_body={"cursor": "25", "hitsTotal": 2, "posts": [hit, own]})
    batch = connector(xrpc, source="search", query="acmeair lang:en").fetch(None, limit=25)
    m, brand = batch.mentions
    assert (m.replyable, m.replyable_reason) == (False, REASON_LISTEN_ONLY)
    assert (m.metrics.likes, m.metrics.reposts, m.metrics.replies, m.metrics.quotes) == (11, 3, 2, 1)
    assert (brand.is_brand_post, brand.replyable_reason) == (True, REASON_BRAND_POST)
    [call] = xrpc.calls(SEARCH)
    assert call["query"]["q"] == ["acmeair lang:en"] and call["query"]["sort"] == ["latest"]


def test_429_with_ratelimit_reset_is_waited_out(xrpc):
    reset = int(time.time()) + 40
    xrpc.on(
        LIST,
        status=429,
        headers={
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "3000;w=300",
        },
        json_body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    xrpc.on(LIST, json_body=page([note("r1", T(1))]))
    sleeps = Sleeps()
    batch = connector(xrpc, sleeps).fetch(None)
    assert [m.external_id[-2:] for m in batch.mentions] == ["r1"]
    assert len(sleeps) == 1 and 35 <= sleeps[0] <= 42


def test_5xx_is_retried_and_then_becomes_retriable(xrpc):
    xrpc.on(LIST, status=500, json_body={"error": "InternalServerError"})
    xrpc.on(LIST, status=502, json_body={"error": "BadGateway"})
    xrpc.on(LIST, json_body=page([note("f1", T(1))]))
    sleeps = Sleeps()
    assert len(connector(xrpc, sleeps).fetch(None).mentions) == 1
    assert len(sleeps) == 2
    xrpc.routes[LIST] = [(503, {}, {"error": "Unavailable"})]
    with pytest.raises(RetriableError) as info:
        connector(xrpc, attempts=2).fetch(None)
    assert info.value.status == 503


def test_refused_app_password_is_an_auth_error_with_a_reason(xrpc):
    xrpc.routes["com.atproto.server.createSession"] = [
        (401, {}, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
    ]
    with pytest.raises(AuthError) as info:
        connector(xrpc).fetch(None)
    assert info.value.status == 401 and "app password" in str(info.value)
    assert xrpc.calls(LIST) == []


def test_malformed_items_are_skipped_duplicates_dropped_and_the_rest_kept(xrpc, caplog):
    no_author = note("m1", T(9))
    del no_author["author"]
    deleted = note("m2", T(8))
    deleted["record"] = None
    no_uri = note("m3", T(7))
    del no_uri["uri"]
    long_text = "@acmeair.com " + "ñ" * 1987 + "🚀" * 2000
    items = [
        no_author,
        deleted,
        no_uri,
        note("ok", T(6), text="emoji 👨‍👩‍👧‍👦 \u202eodd\x00 Z̸̢a̷l̵g̶o"),
        note("ok", T(6), text="emoji 👨‍👩‍👧‍👦 \u202eodd\x00 Z̸̢a̷l̵g̶o"),
        note("lg", T(5), text=long_text),
        note("lk", T(4), reason="like"),
    ]
    xrpc.on(LIST, json_body=page(items))
    with caplog.at_level("WARNING"):
        batch = connector(xrpc).fetch(None)
    assert [(s.external_id or "")[-2:] for s in batch.skipped] == ["m1", "m2", ""]
    assert [s.reason for s in batch.skipped][:2] == [
        "post has no author",
        "post deleted or its record is missing",
    ]
    assert [m.external_id[-2:] for m in batch.mentions] == ["ok", "lg"]
    assert batch.mentions[0].text == "emoji 👨‍👩‍👧‍👦 \u202eodd Z̸̢a̷l̵g̶o"
    assert batch.mentions[1].text == long_text and len(long_text) == 4000
    assert batch.reads == 7 and "m1" in caplog.text


def test_reply_sends_root_and_parent_refs(xrpc):
    xrpc.on(LIST, json_body=page([FIXTURE]))
    [mention] = connector(xrpc).fetch(None).mentions
    created = {
        "uri": f"at://{BRAND_DID}/app.bsky.feed.post/3mreply",
        "cid": "bafyreply",
        "commit": {"cid": "bafycommit", "rev": "3mrev"},
        "validationStatus": "valid",
    }
    xrpc.on("com.atproto.repo.createRecord", json_body=created)
    posted = connector(xrpc).reply(mention, "Lo sentimos, María.", idempotency_key="k1")
    assert posted.external_id == created["uri"]
    assert posted.url == "https://bsky.app/profile/acmeair.com/post/3mreply"
    [call] = xrpc.calls("com.atproto.repo.createRecord")
    body = call["body"]
    assert body["repo"] == BRAND_DID and body["collection"] == "app.bsky.feed.post"
    assert body["record"]["text"] == "Lo sentimos, María." and body["record"]["langs"] == ["es"]
    assert strip_types(body["record"]["reply"]) == {
        "root": FIXTURE["record"]["reply"]["root"],
        "parent": {"uri": FIXTURE["uri"], "cid": FIXTURE["cid"]},
    }


def test_reply_to_a_root_post_uses_it_as_root_and_parent(xrpc):
    xrpc.on(LIST, json_body=page([note("rt", T(1))]))
    [mention] = connector(xrpc).fetch(None).mentions
    xrpc.on("com.atproto.repo.createRecord", json_body={"uri": "at://x/app.bsky.feed.post/1", "cid": "c"})
    connector(xrpc).reply(mention, "hi", idempotency_key="k")
    reply = strip_types(xrpc.calls("com.atproto.repo.createRecord")[0]["body"]["record"]["reply"])
    assert reply["root"] == reply["parent"] == {"uri": mention.external_id, "cid": "bafycidrt"}


def test_reply_to_listen_only_is_refused(xrpc):
    xrpc.on(SEARCH, json_body={"posts": [{k: v for k, v in note("s", T(1)).items() if k != "reason"}]})
    [mention] = connector(xrpc, source="search", query="acme").fetch(None).mentions
    with pytest.raises(FatalError):
        connector(xrpc).reply(mention, "hi", idempotency_key="k")
    assert xrpc.calls("com.atproto.repo.createRecord") == []


def test_find_reply_looks_in_the_thread(xrpc):
    xrpc.on(LIST, json_body=page([FIXTURE]))
    [mention] = connector(xrpc).fetch(None).mentions
    ours = {
        "uri": f"at://{BRAND_DID}/app.bsky.feed.post/3mine",
        "cid": "c",
        "author": {"did": BRAND_DID, "handle": "acmeair.com"},
        "record": {"$type": "app.bsky.feed.post", "text": "Lo  sentimos", "createdAt": T(3)},
    }
    thread = {
        "thread": {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": {"uri": mention.external_id},
            "replies": [{"$type": "app.bsky.feed.defs#threadViewPost", "post": ours}],
        }
    }
    xrpc.on("app.bsky.feed.getPostThread", json_body=thread)
    found = connector(xrpc).find_reply(mention, "Lo sentimos")
    assert found is not None and found.external_id == ours["uri"]
    assert connector(xrpc).find_reply(mention, "something else") is None
    assert xrpc.calls("app.bsky.feed.getPostThread")[0]["query"]["uri"] == [mention.external_id]


# --- real recorded payloads (medialab/twitwi; see tests/fixtures/bluesky/twitwi_posts_and_profile.json) ---

REAL = json.loads(
    (Path(__file__).parent / "fixtures/bluesky/twitwi_posts_and_profile.json").read_text(encoding="utf-8")
)
PROFILES = "app.bsky.actor.getProfiles"


def real_posts() -> list[dict]:
    return copy.deepcopy(REAL["posts"])


def profile_of(did: str, handle: str, followers: int) -> dict:
    """A getProfiles entry in the recorded profileViewDetailed shape; the count is this test's value."""
    view = copy.deepcopy(REAL["profile"])
    view.update(did=did, handle=handle, followersCount=followers)
    return view


def search(xrpc: FakeXrpc, posts: list[dict], **config) -> BlueskyConnector:
    xrpc.on(SEARCH, json_body={"cursor": "25", "hitsTotal": len(posts), "posts": posts})
    return connector(xrpc, source="search", query="HCERES", **config)


def test_recorded_post_views_map_and_followers_come_from_one_batched_profile_lookup(xrpc):
    posts = real_posts()
    assert all("followersCount" not in p["author"] for p in posts)  # what the AppView really sends
    xrpc.on(
        PROFILES,
        json_body={
            "profiles": [
                profile_of("did:plc:crmrddqmbqzyqd24yjlpibz2", "pecqueuxanthony.bsky.social", 1250),
                profile_of("did:plc:gzm4qhibsm3o6rg46n3ubswf", "annemascret.bsky.social", 87),
            ]
        },
    )
    conn = search(xrpc, posts)
    first, second = conn.fetch(None).mentions
    assert first.text.endswith("#HCERES #ESR") and first.language == "fr"
    assert (first.metrics.likes, first.metrics.reposts, first.metrics.replies) == (34, 8, 2)
    assert first.author is not None and (first.author.handle, first.author.followers) == (
        "pecqueuxanthony.bsky.social",
        1250,
    )
    assert second.author is not None and second.author.followers == 87
    assert second.url == "https://bsky.app/profile/annemascret.bsky.social/post/3lkksxdlabk2y"
    [lookup] = xrpc.calls(PROFILES)
    assert sorted(lookup["query"]["actors"]) == ["did:plc:crmrddqmbqzyqd24yjlpibz2", "did:plc:gzm4qhibsm3o6rg46n3ubswf"]
    # the next page by the same authors is served from the cache
    again = conn.fetch(None).mentions
    assert [m.author.followers for m in again if m.author] == [1250, 87]
    assert len(xrpc.calls(PROFILES)) == 1


def test_profile_lookups_go_25_actors_at_a_time(xrpc):
    template = real_posts()[1]
    posts = []
    for n in range(30):
        post = copy.deepcopy(template)
        did = f"did:plc:author{n:020d}"
        post.update(uri=f"at://{did}/app.bsky.feed.post/3lkksxdlab{n:03d}", indexedAt=T(n % 60))
        post["author"].update(did=did, handle=f"author{n}.bsky.social")
        posts.append(post)
    xrpc.on(PROFILES, json_body={"profiles": []})
    batch = search(xrpc, posts).fetch(None, limit=30)
    assert len(batch.mentions) == 30
    assert [len(c["query"]["actors"]) for c in xrpc.calls(PROFILES)] == [25, 5]


def test_a_failed_profile_lookup_keeps_the_page_with_followers_at_zero(xrpc, caplog):
    xrpc.on(PROFILES, status=502, json_body={"error": "BadGateway"})
    with caplog.at_level("WARNING"):
        batch = search(xrpc, real_posts(), attempts=2).fetch(None)
    assert [m.author.followers for m in batch.mentions if m.author] == [0, 0]
    assert "follower lookup" in caplog.text and len(xrpc.calls(PROFILES)) == 2


def test_an_invalid_handle_links_by_did_and_a_main_typed_record_is_a_post(xrpc):
    # handle.invalid is what the AppView shows when a handle no longer matches its DID
    # (atproto lexicon app.bsky.actor.defs); "#main" names the record's main definition,
    # which atproto's own isRecord() accepts as app.bsky.feed.post.
    post = real_posts()[1]
    post["author"]["handle"] = "handle.invalid"
    post["record"]["$type"] = "app.bsky.feed.post#main"
    xrpc.on(PROFILES, json_body={"profiles": []})
    batch = search(xrpc, [post]).fetch(None)
    assert batch.skipped == []
    [m] = batch.mentions
    assert m.url == "https://bsky.app/profile/did:plc:gzm4qhibsm3o6rg46n3ubswf/post/3lkksxdlabk2y"


def test_the_follower_cache_forgets_after_its_ttl_and_keeps_only_the_newest():
    from connectors.bluesky import _FollowerCache

    now = [0.0]
    cache = _FollowerCache(ttl_s=60, max_size=2, clock=lambda: now[0])
    cache.put("did:a", 5)
    cache.put("did:b", 7)
    cache.put("did:c", 9)  # over the bound: the oldest goes
    assert (cache.get("did:a"), cache.get("did:b"), cache.get("did:c")) == (None, 7, 9)
    now[0] = 61.0
    assert cache.get("did:b") is None and cache.known() == set()


def test_an_item_that_breaks_the_mapping_is_skipped_not_the_page(xrpc):
    """Infinity as a count (``1e400`` parses to it) or a list as a count must cost one item, not the page."""
    items = [note("inf", T(9), likeCount=float("inf")), note("lst", T(8), replyCount=[3]), note("ok", T(7))]
    xrpc.on(LIST, json_body=page(items))
    batch = connector(xrpc).fetch(None)
    assert [m.external_id[-2:] for m in batch.mentions] == ["ok"]
    assert [(s.external_id or "")[-3:] for s in batch.skipped] == ["inf", "lst"]
    assert all(s.reason.startswith("malformed item (") for s in batch.skipped)
