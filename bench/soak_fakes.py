"""A fake Mastodon instance on 127.0.0.1 for the soak: a timeline that fills at a fixed rate, and a reply endpoint.

The worker reads it through the real ``MastodonConnector`` (Mastodon.py over HTTP), so every injected fault
goes through the connector's own error handling:

- on reads: 429 with a reset a few seconds away, 500/502/503, and a hang longer than the client's timeout;
- in the timeline: malformed items (a deleted post, a post with no author, one with no creation time), which
  the connector must skip while keeping the rest of the page, and hostile but valid texts (NUL, bidi
  overrides, zero-width characters, markup, 20,000 characters), which must be stored;
- on replies: 429 and 503 before the post is taken, and a 502 or a hang *after* it was taken (the ambiguous
  case: the platform has the post, the client never heard).

Replies are de-duplicated on ``Idempotency-Key`` as Mastodon does, and every post the instance published is
recorded with the request that made it, so the soak can count double posts (two published statuses for one
queued reply) and the retries that only the key kept from becoming one.
"""

from __future__ import annotations

import html
import http.server
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.demo import generate_mentions

BRAND_ACCOUNT_ID = "109000000000000001"
AUTHORS = 400
MALFORMED_KINDS = ("deleted", "authorless", "undated")
HOSTILE_TEXTS = (
    "NUL\x00byte in the middle of a complaint",
    "\u202eknaB ym deppots\u202c refund please \u200b\u200d",
    '<script>alert("x")</script> [click](https://evil.example/phish) www.evil.example',
    "x" * 20_000,
)


@dataclass(frozen=True)
class Faults:
    """How often each fault is injected: a share of an endpoint's requests, or of timeline items.

    Faults are periodic, not random: with share ``p`` every ``round(1/p)``-th request, the first one early in
    the run (a few requests in, staggered by kind and instance), so even a two-minute soak meets each kind.
    """

    read_429: float = 0.03
    read_5xx: float = 0.03
    read_hang: float = 0.004
    malformed: float = 0.01
    hostile: float = 0.005
    reply_429: float = 0.02
    reply_5xx_before: float = 0.02
    reply_5xx_after: float = 0.02
    reply_hang_after: float = 0.003
    hang_s: float = 32.0
    """Longer than the connector's 30 s request timeout."""
    reset_s: float = 3.0
    """How far away a 429's rate-limit reset is."""


def periodic(n: int, share: float, first: int) -> bool:
    """Whether the ``n``-th event (1-based) is one of a fault that hits every ``1/share``-th event from ``first``."""
    if share <= 0 or n < first:
        return False
    return (n - first) % max(1, round(1 / share)) == 0


@dataclass
class Post:
    """One status the instance published in reply to a mention."""

    status_id: str
    in_reply_to_id: str
    text: str
    idempotency_key: str | None
    at: datetime


@dataclass
class Timeline:
    """Items ``1..n`` published at ``rate`` per second from ``start``; item ``k`` is notification ``k``."""

    instance: int
    rate: float
    start: float
    texts: list[str]
    faults: Faults
    seed: int
    stop_at: float | None = None

    def status_id(self, k: int) -> str:
        """Snowflake-like ids, disjoint between instances (they share one platform in the store)."""
        return str(110_000_000_000_000_000 + self.instance * 1_000_000_000 + k)

    def published(self, now: float | None = None) -> int:
        """How many items exist at ``now`` (wall clock)."""
        at = time.time() if now is None else now
        if self.stop_at is not None:
            at = min(at, self.stop_at)
        return max(0, int((at - self.start) * self.rate))

    def published_at(self, k: int) -> float:
        return self.start + k / self.rate

    def kind(self, k: int) -> str:
        """``valid``, ``hostile`` (valid, must be stored) or one of :data:`MALFORMED_KINDS`; fixed per item."""
        if periodic(k, self.faults.malformed, 20 + 7 * self.instance):
            return MALFORMED_KINDS[(k // 7) % len(MALFORMED_KINDS)]
        if periodic(k, self.faults.hostile, 40 + 11 * self.instance):
            return "hostile"
        return "valid"

    def valid_ids(self, upto: int) -> dict[str, int]:
        """Status id -> item number of every item that must end up stored."""
        return {self.status_id(k): k for k in range(1, upto + 1) if self.kind(k) in ("valid", "hostile")}

    def item(self, k: int) -> dict[str, Any]:
        """The notification JSON for item ``k``."""
        rng = random.Random(self.seed * 7_919 + k)
        kind = self.kind(k)
        author = rng.randrange(AUTHORS)
        created = datetime.fromtimestamp(self.published_at(k), UTC).isoformat().replace("+00:00", "Z")
        hostile = HOSTILE_TEXTS[(k // 13 + self.instance) % len(HOSTILE_TEXTS)]
        text = hostile if kind == "hostile" else self.texts[k % len(self.texts)]
        account = {
            "id": str(200_000 + self.instance * 10_000 + author),
            "username": f"user{author}",
            "acct": f"user{author}@i{self.instance}.example",
            "display_name": f"User {author}",
            "followers_count": rng.randrange(5_000),
            "url": f"https://i{self.instance}.example/@user{author}",
        }
        parent = self.status_id(k - 1 - rng.randrange(min(k - 1, 50))) if k > 1 and rng.random() < 0.05 else None
        status: dict[str, Any] = {
            "id": self.status_id(k),
            "created_at": created,
            "in_reply_to_id": parent,
            "visibility": "public",
            "language": None,
            "uri": f"https://i{self.instance}.example/users/user{author}/statuses/{self.status_id(k)}",
            "url": f"https://i{self.instance}.example/@user{author}/{self.status_id(k)}",
            "replies_count": 0,
            "reblogs_count": rng.randrange(3),
            "favourites_count": rng.randrange(10),
            "content": f"<p>@soakair {html.escape(text)}</p>",
            "account": account,
            "mentions": [{"id": BRAND_ACCOUNT_ID, "acct": "soakair", "username": "soakair"}],
        }
        if kind == "authorless":
            del status["account"]
        elif kind == "undated":
            del status["created_at"]
        notification: dict[str, Any] = {
            "id": str(k),
            "type": "mention",
            "created_at": created,
            "account": account,
            "status": status,
        }
        if kind == "deleted":
            notification["status"] = None
        return notification


class FakeMastodon:
    """One instance: its timeline, the posts it published, what it served and which faults it injected."""

    def __init__(self, timeline: Timeline, token: str) -> None:
        self.timeline, self.token = timeline, token
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.served: set[int] = set()
        self.posts: list[Post] = []
        self.by_key: dict[str, Post] = {}
        self.key_replays = 0
        """POSTs answered from the idempotency store: retries a platform without keys would have posted twice."""
        self.requests: Counter[str] = Counter()
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-mastodon-{timeline.instance}")
        self.thread.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeMastodon:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def roll(self, endpoint: str, *shares: tuple[str, float]) -> str | None:
        """At most one fault for this request to ``endpoint`` (see :class:`Faults`); counted."""
        with self.lock:
            self.requests[endpoint] += 1
            n = self.requests[endpoint]
            for index, (name, share) in enumerate(shares):
                first = 3 + 5 * index + 2 * self.timeline.instance
                if name.endswith("hang") or name.endswith("hang_after"):
                    first = 12 + 40 * (self.timeline.instance - 1)  # staggered: one instance hangs at a time
                if periodic(n, share, first):
                    self.faults[name] += 1
                    return name
        return None

    # --- the API ---------------------------------------------------------------------------------

    def notifications(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        limit = min(int(query.get("limit", ["40"])[0]), 80)
        newest = self.timeline.published()
        min_id = query.get("min_id", [None])[0]
        if min_id is None:
            numbers = list(range(max(1, newest - limit + 1), newest + 1))
        else:
            first = int(min_id) + 1
            numbers = list(range(first, min(newest, first + limit - 1) + 1))
        with self.lock:
            self.served.update(numbers)
        return [self.timeline.item(k) for k in reversed(numbers)]  # newest first, as Mastodon answers

    def status_json(self, post: Post) -> dict[str, Any]:
        return {
            "id": post.status_id,
            "created_at": post.at.isoformat().replace("+00:00", "Z"),
            "in_reply_to_id": post.in_reply_to_id,
            "visibility": "public",
            "content": f"<p>{html.escape(post.text)}</p>",
            "url": f"https://i{self.timeline.instance}.example/@soakair/{post.status_id}",
            "uri": f"https://i{self.timeline.instance}.example/users/soakair/statuses/{post.status_id}",
            "account": {"id": BRAND_ACCOUNT_ID, "username": "soakair", "acct": "soakair"},
        }

    def publish(self, form: dict[str, list[str]], key: str | None) -> tuple[Post, bool]:
        """Publish a reply, or return the one this key already made (Mastodon keeps keys for an hour)."""
        with self.lock:
            if key is not None and key in self.by_key:
                self.key_replays += 1
                return self.by_key[key], False
            post = Post(
                status_id=str(900_000_000_000 + self.timeline.instance * 10_000_000 + len(self.posts) + 1),
                in_reply_to_id=form.get("in_reply_to_id", [""])[0],
                text=form.get("status", [""])[0],
                idempotency_key=key,
                at=datetime.now(UTC),
            )
            self.posts.append(post)
            if key is not None:
                self.by_key[key] = post
            return post, True

    def context(self, status_id: str) -> dict[str, Any]:
        with self.lock:
            replies = [self.status_json(p) for p in self.posts if p.in_reply_to_id == status_id]
        return {"ancestors": [], "descendants": replies}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a hung request breaks its connection: that is the point


def _handler(fake: FakeMastodon) -> type[http.server.BaseHTTPRequestHandler]:
    faults = fake.timeline.faults

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _limits(self, remaining: int, reset_in: float) -> dict[str, str]:
            reset = datetime.now(UTC) + timedelta(seconds=reset_in)
            return {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": reset.isoformat(),
            }

        def _fault_before(self, kind: str | None) -> bool:
            """Answer a fault that happens before any work; ``True`` if one was answered."""
            if kind in ("read_429", "reply_429"):
                self._send(429, {"error": "Too many requests"}, self._limits(0, faults.reset_s))
                return True
            if kind in ("read_5xx", "reply_5xx_before"):
                status = (500, 502, 503)[sum(fake.faults.values()) % 3]
                self._send(status, {"error": "We're sorry, but something went wrong"})
                return True
            if kind == "read_hang":
                time.sleep(faults.hang_s)
                self.close_connection = True
                return True
            return False

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._send(401, {"error": "The access token is invalid"})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if not self._authorised():
                return
            parsed = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(parsed.query)
            if parsed.path == "/api/v1/notifications":
                fault = fake.roll(
                    "notifications",
                    ("read_429", faults.read_429),
                    ("read_5xx", faults.read_5xx),
                    ("read_hang", faults.read_hang),
                )
                if not self._fault_before(fault):
                    self._send(200, fake.notifications(query), self._limits(299, 300))
                return
            parts = parsed.path.strip("/").split("/")
            if len(parts) == 5 and parts[:3] == ["api", "v1", "statuses"] and parts[4] == "context":
                fault = fake.roll("context", ("read_5xx", faults.read_5xx))
                if not self._fault_before(fault):
                    self._send(200, fake.context(parts[3]), self._limits(299, 300))
                return
            self._send(404, {"error": "Record not found"})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if urllib.parse.urlparse(self.path).path != "/api/v1/statuses":
                self._send(404, {"error": "Record not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                form = {k: [str(v)] for k, v in json.loads(body or "{}").items()}
            else:
                form = urllib.parse.parse_qs(body)
            fault = fake.roll(
                "statuses",
                ("reply_429", faults.reply_429),
                ("reply_5xx_before", faults.reply_5xx_before),
                ("reply_5xx_after", faults.reply_5xx_after),
                ("reply_hang_after", faults.reply_hang_after),
            )
            if self._fault_before(fault):
                return
            post, _ = fake.publish(form, self.headers.get("Idempotency-Key"))
            if fault == "reply_5xx_after":  # taken, and the answer is lost
                self._send(502, {"error": "Bad gateway"})
                return
            if fault == "reply_hang_after":
                time.sleep(faults.hang_s)
                self.close_connection = True
                return
            self._send(200, fake.status_json(post), self._limits(299, 300))

    return Handler


def demo_texts(n: int, seed: int) -> list[str]:
    """Realistic mention texts (several languages, emoji) from the seeded demo generator."""
    end = datetime(2026, 11, 1, tzinfo=UTC)
    return [g.mention.text for g in generate_mentions(n, seed=seed, start=end - timedelta(days=1), end=end)]


def start_instances(
    count: int, rate_per_s: float, faults: Faults, seed: int, token: str, clock: Callable[[], float] = time.time
) -> list[FakeMastodon]:
    """``count`` instances sharing ``rate_per_s`` between them, publishing from now."""
    start = clock()
    texts = demo_texts(2_000, seed)
    return [
        FakeMastodon(Timeline(i + 1, rate_per_s / count, start, texts, faults, seed + i), token).start()
        for i in range(count)
    ]
