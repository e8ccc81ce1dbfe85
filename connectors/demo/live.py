"""The live demo source: a connector that keeps new mentions arriving, and accepts replies.

It honours the connector contract like a real network adapter, so the worker, the outbox and
the console run the same code paths in the demo as in production.

The feed continues the seeded history: mentions arrive as a Poisson process at the history's own
rate for the same hour of the week (:func:`~connectors.demo.timeline.normal_per_weight`), so the
spike detector, which compares each hour with the same hour in earlier weeks, stays quiet on it.
Once per feed, a few minutes after its first fetch, an outage hits Nimbus Mobile (when the feed
carries that brand): a burst of complaints many times the usual rate for about 25 minutes, the
brand's status post, and reporters asking for comment (critical posts the worker escalates to PR).

What it fetches depends only on its cursor and on how far the clock has moved past it.  The cursor
carries a sequence number, the feed's own clock (``at_ms``: everything up to it was delivered) and
the anchor of its first fetch: the next mentions' times are drawn from a generator seeded by the
cursor, and each mention's id and text from its sequence number alone.  So a replay after a crash
repeats the same ids (a later clock only adds the mentions due since, and ingest drops the rest as
duplicates), a resumed cursor never repeats one, and the incident's time follows from the anchor.
After a stop longer than :data:`MAX_CATCH_UP` the feed resumes that long before now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random
from typing import ClassVar

from connectors.base import Batch, FatalError, Mention, PostedReply, SkippableError
from connectors.demo.generator import P_COMPETITOR, P_NEWS, DemoStream
from connectors.demo.platforms import STREAM_LIVE
from connectors.demo.timeline import DIURNAL, HOUR_MS, SPIKE_OUTAGE, WEEKDAY, Spike, hour_weight, normal_per_weight
from connectors.demo.world import DEFAULT_WORLD, NIMBUS_MOBILE, DemoBrand
from connectors.json_cursor import dump_cursor, read_cursor, unreadable_cursor

CURSOR_VERSION = 2
REPLY_LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500, "reddit": 10_000}
"""Characters a reply may have on each network."""
HISTORY_MENTIONS = 5_000
HISTORY_DAYS = 30
"""The history the feed continues: what ``mentiondesk demo`` seeds by default (``seed_demo``)."""
MAX_CATCH_UP = timedelta(hours=1)
COMPETITOR_SHARE = P_COMPETITOR - P_NEWS
"""Share of the history's normal traffic that is chatter about competitors."""

INCIDENT_BRAND = NIMBUS_MOBILE.name
INCIDENT_DELAY = timedelta(minutes=6)
"""The incident starts this long after the feed's first fetch."""
INCIDENT_LENGTH = timedelta(minutes=25)
INCIDENT_TIMES = 8.0
INCIDENT_MIN_PER_HOUR = 120.0
"""Extra mentions an hour at the incident's peak: this many times the usual rate, and at least the minimum,
so that it stands out within minutes even at night (the seeded demo has only a few mentions an hour)."""
PRESS_AFTER = (timedelta(minutes=7), timedelta(minutes=15))
"""When reporters ask for comment, from the incident's start."""
ROOT_COUNTER = -1
"""Scripted posts use negative counters: their ids never meet a sequence number's."""


@dataclass(frozen=True, slots=True)
class LiveCursor:
    """Where the live feed stands: the next sequence number, the seed, the first fetch and the feed's clock.

    ``at_ms`` is the time up to which mentions were delivered; ``None`` (a version-1 cursor) starts at the
    next fetch's clock.
    """

    seq: int
    seed: int
    anchor_ms: int
    at_ms: int | None = None

    def encode(self) -> str:
        """The JSON string the store keeps."""
        data = {"v": CURSOR_VERSION, "seq": self.seq, "seed": self.seed, "anchor_ms": self.anchor_ms}
        return dump_cursor(data | ({} if self.at_ms is None else {"at_ms": self.at_ms}))

    @classmethod
    def decode(cls, text: str) -> LiveCursor:
        """Parse a stored cursor; raise ``FatalError`` when it is not one of ours."""
        data = read_cursor(text, what="demo source")
        try:
            at = data.get("at_ms")
            cursor = cls(int(data["seq"]), int(data["seed"]), int(data["anchor_ms"]), None if at is None else int(at))
        except (ValueError, TypeError, KeyError) as exc:
            raise unreadable_cursor("demo source", exc) from exc
        if cursor.seq < 0:
            raise FatalError(f"demo source cursor has a negative sequence number ({cursor.seq})")
        return cursor


@dataclass(frozen=True, slots=True)
class LiveIncident:
    """The outage the feed injects: ``brand``'s traffic bursts from ``start_ms`` for ``length_ms``."""

    brand: str
    start_ms: int
    length_ms: int

    @property
    def end_ms(self) -> int:
        """When the burst is over."""
        return self.start_ms + self.length_ms

    def shape(self, ms: float) -> float:
        """The burst's strength from 0 to 1: it rises over the first minutes, holds, then fades."""
        if not self.start_ms <= ms < self.end_ms:
            return 0.0
        x = (ms - self.start_ms) / self.length_ms
        if x < 0.12:
            return 0.3 + 0.7 * x / 0.12
        return 1.0 if x < 0.6 else 1.0 - 0.75 * (x - 0.6) / 0.4

    def spike(self) -> Spike:
        """The incident as the generator's :class:`Spike` (its texts, city and thread)."""
        return Spike(SPIKE_OUTAGE, self.brand, datetime.fromtimestamp(self.start_ms / 1000, UTC), 1, INCIDENT_TIMES)


def traffic_share(brands: Sequence[DemoBrand]) -> float:
    """The share of the demo history's traffic that is about ``brands`` (1.0 for the whole world)."""
    own_total = sum(b.volume_share for b in DEFAULT_WORLD.own_brands) or 1.0
    own = sum(b.volume_share for b in brands if not b.is_competitor)
    rivals = sum(1 for b in brands if b.is_competitor) / max(len(DEFAULT_WORLD.competitors), 1)
    return (1 - COMPETITOR_SHARE) * own / own_total + COMPETITOR_SHARE * rivals


class _Rates:
    """Mentions per millisecond of the feed at any moment: the history's seasonality plus the incident."""

    def __init__(self, per_weight_hour: float, incident: LiveIncident | None) -> None:
        self.per_weight_ms = per_weight_hour / HOUR_MS
        self.incident = incident
        self.normal_top = self.per_weight_ms * max(DIURNAL) * max(WEEKDAY)
        self.extra_top = max(INCIDENT_TIMES * self.normal_top, INCIDENT_MIN_PER_HOUR / HOUR_MS)

    def normal(self, ms: float) -> float:
        return self.per_weight_ms * hour_weight(datetime.fromtimestamp(ms / 1000, UTC))

    def burst(self, ms: float) -> float:
        if self.incident is None:
            return 0.0
        strength = self.incident.shape(ms)
        return strength * max(INCIDENT_TIMES * self.normal(ms), INCIDENT_MIN_PER_HOUR / HOUR_MS) if strength else 0.0

    def top(self, since_ms: int) -> float:
        """A rate no moment after ``since_ms`` exceeds (for thinning); fixed by ``since_ms`` alone."""
        during = self.incident is not None and since_ms < self.incident.end_ms
        return self.normal_top + (self.extra_top if during else 0.0)


@dataclass(frozen=True, slots=True)
class _Due:
    """One mention due in a fetch: when, and what it is (``seq`` for the random ones)."""

    ms: int
    what: str  # "normal", "incident", "root" or "press"
    seq: int = 0
    which: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class DemoConnector:
    """Generated "live" mentions about the demo brands, at the seeded history's rate, created up to now.

    ``history_mentions`` over ``history_days`` is the history the feed continues (``mentiondesk demo``'s
    default seed); ``incident=False`` leaves the outage out.
    """

    platform: ClassVar[str] = "demo"

    def __init__(
        self,
        *,
        seed: int = 7,
        brands: Sequence[DemoBrand] = DEFAULT_WORLD.brands,
        clock: Callable[[], datetime] = _now,
        history_mentions: int = HISTORY_MENTIONS,
        history_days: int = HISTORY_DAYS,
        incident: bool = True,
    ) -> None:
        if history_mentions < 0 or history_days < 1:
            raise ValueError(f"history must be >= 0 mentions over >= 1 day, got {history_mentions}, {history_days}")
        self._seed = seed
        self._brands = tuple(brands)
        self._clock = clock
        self._history = (history_mentions, history_days)
        self._incident = incident and any(b.name == INCIDENT_BRAND for b in self._brands)
        self._share = traffic_share(self._brands)
        self._rng = Random(seed)
        self._streams: dict[int, DemoStream] = {}
        self._rates: dict[int, _Rates] = {}
        self._posted: dict[str, PostedReply] = {}
        self._by_target: dict[tuple[str, str, str], PostedReply] = {}

    def _stream_for(self, seed: int) -> DemoStream:
        stream = self._streams.get(seed)
        if stream is None:
            stream = DemoStream(seed, self._rng, self._brands, stream=STREAM_LIVE, pool_size=20_000, end_ms=0)
            self._streams[seed] = stream
        return stream

    def _rates_for(self, anchor_ms: int) -> _Rates:
        """The rates of the feed started at ``anchor_ms``: the history before it, and its incident."""
        rates = self._rates.get(anchor_ms)
        if rates is None:
            mentions, days = self._history
            end = datetime.fromtimestamp(anchor_ms / 1000, UTC)
            names = [b.name for b in DEFAULT_WORLD.brands]
            per_weight = normal_per_weight(mentions, end - timedelta(days=days), end, names) * self._share
            incident = None
            if self._incident:
                start = anchor_ms + int(INCIDENT_DELAY.total_seconds() * 1000)
                incident = LiveIncident(INCIDENT_BRAND, start, int(INCIDENT_LENGTH.total_seconds() * 1000))
            rates = self._rates[anchor_ms] = _Rates(per_weight, incident)
        return rates

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        """The mentions due between the cursor's clock and now; the same cursor always yields the same posts."""
        now_ms = int(self._clock().astimezone(UTC).timestamp() * 1000)
        state = LiveCursor.decode(cursor) if cursor else LiveCursor(0, self._seed, now_ms, now_ms)
        since = max(now_ms if state.at_ms is None else state.at_ms, now_ms - int(MAX_CATCH_UP.total_seconds() * 1000))
        until = max(now_ms, since)
        rates = self._rates_for(state.anchor_ms)
        due = sorted(self._due(state, rates, since, until), key=lambda d: (d.ms, d.what != "root"))
        taken = due[: max(limit, 0)]
        mentions = self._compose(state, rates, taken, now_ms)
        more = len(due) > len(taken)
        random_taken = sum(1 for d in taken if d.what in ("normal", "incident"))
        at = (taken[-1].ms if taken else since) if more else until
        following = LiveCursor(state.seq + random_taken, state.seed, state.anchor_ms, at)
        return Batch(mentions=mentions, next_cursor=following.encode(), has_more=more, reads=len(mentions))

    def _due(self, state: LiveCursor, rates: _Rates, since: int, until: int) -> list[_Due]:
        """Every mention in ``(since, until]``: random arrivals by thinning, then the incident's scripted posts."""
        due: list[_Due] = []
        top = rates.top(since)
        timing = Random(f"mentiondesk-demo-live-times:{state.seed}:{state.seq}:{since}")
        at, seq = float(since), state.seq
        while top > 0:
            at += timing.expovariate(top)
            if at > until:
                break
            normal, burst, draw = rates.normal(at), rates.burst(at), timing.random() * top
            if draw < normal + burst:
                due.append(_Due(int(at), "normal" if draw < normal else "incident", seq))
                seq += 1
        incident = rates.incident
        if incident is not None:
            scripted = [("root", incident.start_ms, 0)]
            for i, after in enumerate(PRESS_AFTER):
                scripted.append(("press", incident.start_ms + int(after.total_seconds() * 1000), i))
            due += [_Due(ms, what, which=i) for what, ms, i in scripted if since < ms <= until]
        return due

    def _compose(self, state: LiveCursor, rates: _Rates, due: list[_Due], now_ms: int) -> list[Mention]:
        stream = self._stream_for(state.seed)
        stream.reset(end_ms=now_ms, live_anchor_ms=state.anchor_ms)
        incident = rates.incident
        spikes: tuple[Spike, ...] = (incident.spike(),) if incident is not None else ()
        root = None
        if incident is not None and any(d.what != "normal" for d in due):  # the thread the incident gathers in
            self._rng.seed(f"mentiondesk-demo-live:{state.seed}:incident-root")
            root = stream.next(incident.start_ms, 0, spikes, ROOT_COUNTER, now_ms).mention
        mentions: list[Mention] = []
        for item in due:
            if item.what == "root" and root is not None:
                mentions.append(root)
                continue
            if item.what == "press":
                self._rng.seed(f"mentiondesk-demo-live:{state.seed}:press:{item.which}")
                counter = ROOT_COUNTER - 1 - item.which
                mentions.append(stream.press_question(item.ms, spikes[0], 0, counter, now_ms, item.which).mention)
                continue
            self._rng.seed(f"mentiondesk-demo-live:{state.seed}:{item.seq}")
            spike_index = 0 if item.what == "incident" else -1
            mentions.append(stream.next(item.ms, spike_index, spikes, item.seq, now_ms).mention)
        return mentions

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
