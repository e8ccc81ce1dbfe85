"""The live demo source: a connector that keeps new mentions arriving, and accepts replies.

It honours the connector contract like a real network adapter, so the worker, the outbox and
the console run the same code paths in the demo as in production.  What it fetches depends only
on its cursor, which carries a sequence number, so a replay after a crash repeats the same ids
(and ingest drops them as duplicates) while a resumed cursor never repeats one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import ClassVar

from connectors.base import Batch, FatalError, Mention, PostedReply, SkippableError
from connectors.demo.generator import DemoStream
from connectors.demo.platforms import STREAM_LIVE
from connectors.demo.world import DEFAULT_WORLD, DemoBrand

CURSOR_VERSION = 1
REPLY_LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500, "reddit": 10_000}
"""Characters a reply may have on each network."""


@dataclass(frozen=True, slots=True)
class LiveCursor:
    """Where the live feed stands: the next sequence number, the seed, and the id time anchor."""

    seq: int
    seed: int
    anchor_ms: int

    def encode(self) -> str:
        """The JSON string the store keeps."""
        return json.dumps({"v": CURSOR_VERSION, "seq": self.seq, "seed": self.seed, "anchor_ms": self.anchor_ms})

    @classmethod
    def decode(cls, text: str) -> LiveCursor:
        """Parse a stored cursor; raise ``FatalError`` when it is not one of ours."""
        try:
            data = json.loads(text)
            cursor = cls(seq=int(data["seq"]), seed=int(data["seed"]), anchor_ms=int(data["anchor_ms"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise FatalError(f"demo source cursor is unreadable ({exc!s}); reset the source's cursor") from exc
        if cursor.seq < 0:
            raise FatalError(f"demo source cursor has a negative sequence number ({cursor.seq})")
        return cursor


def _now() -> datetime:
    return datetime.now(UTC)


class DemoConnector:
    """Generated "live" mentions about the demo brands, a few per fetch, created around now."""

    platform: ClassVar[str] = "demo"

    def __init__(
        self,
        *,
        seed: int = 7,
        brands: Sequence[DemoBrand] = DEFAULT_WORLD.brands,
        clock: Callable[[], datetime] = _now,
        per_fetch: tuple[int, int] = (1, 4),
    ) -> None:
        low, high = per_fetch
        if not 0 <= low <= high:
            raise ValueError(f"per_fetch must be (low, high) with 0 <= low <= high, got {per_fetch}")
        self._seed = seed
        self._brands = tuple(brands)
        self._clock = clock
        self._per_fetch = per_fetch
        self._rng = Random(seed)
        self._streams: dict[int, DemoStream] = {}
        self._posted: dict[str, PostedReply] = {}
        self._by_target: dict[tuple[str, str, str], PostedReply] = {}

    def _stream_for(self, seed: int) -> DemoStream:
        stream = self._streams.get(seed)
        if stream is None:
            stream = DemoStream(seed, self._rng, self._brands, stream=STREAM_LIVE, pool_size=20_000, end_ms=0)
            self._streams[seed] = stream
        return stream

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """The next few mentions after ``cursor``; the same cursor always yields the same posts."""
        now = self._clock().astimezone(UTC)
        now_ms = int(now.timestamp() * 1000)
        state = LiveCursor.decode(cursor) if cursor else LiveCursor(seq=0, seed=self._seed, anchor_ms=now_ms)
        self._rng.seed(f"mentiondesk-demo-live:{state.seed}:{state.seq}")
        stream = self._stream_for(state.seed)
        stream.reset(end_ms=now_ms, live_anchor_ms=state.anchor_ms)
        low, high = self._per_fetch
        count = max(0, min(limit, low + int(self._rng.random() * (high - low + 1))))
        offsets = sorted((int(self._rng.random() * 20_000) for _ in range(count)), reverse=True)
        mentions: list[Mention] = []
        for i, back in enumerate(offsets):
            made = stream.next(now_ms - back, -1, (), state.seq + i, now_ms)
            mentions.append(made.mention)
        following = LiveCursor(seq=state.seq + count, seed=state.seed, anchor_ms=state.anchor_ms)
        return Batch(mentions=mentions, next_cursor=following.encode(), has_more=False, reads=count)

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        """Pretend to post at once; the id comes from ``idempotency_key``, so a retry returns the first reply."""
        if idempotency_key in self._posted:
            return self._posted[idempotency_key]
        if not to.replyable:
            raise SkippableError(f"cannot reply to {to.external_id}: {to.replyable_reason}", external_id=to.external_id)
        if not text.strip():
            raise SkippableError("reply text is empty", external_id=to.external_id)
        limit = REPLY_LIMITS.get(to.platform)
        if limit is not None and len(text) > limit:
            raise SkippableError(
                f"reply is {len(text)} characters; {to.platform} allows {limit}", external_id=to.external_id
            )
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        ext_id = f"demo-reply-{digest[:20]}"
        posted = PostedReply(
            external_id=ext_id, url=f"{to.url or 'demo://reply'}#reply-{digest[:12]}", posted_at=self._clock()
        )
        self._posted[idempotency_key] = posted
        self._by_target[(to.platform, to.external_id, text)] = posted
        return posted

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        """The reply this process already posted to ``to`` with ``text``, if any."""
        return self._by_target.get((to.platform, to.external_id, text))
