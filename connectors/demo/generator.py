"""The seeded demo data set: ``generate_mentions`` streams realistic, repeatable care traffic.

One ``random.Random(seed)`` drives every choice, so a seed always gives the same mentions; the
output is a generator in time order whose memory does not grow with ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from random import Random

from connectors.base import Author, utc
from connectors.demo import texts_en, texts_intl
from connectors.demo.composer import EPOCH, Composer, TopicEntry, compile_texts
from connectors.demo.outcomes import OutcomePlanner
from connectors.demo.platforms import STREAM_BULK
from connectors.demo.records import (
    KIND_BRAND_POST,
    KIND_COMPETITOR,
    KIND_DIRECT,
    KIND_FOLLOWUP,
    KIND_NEWS,
    KIND_SEARCH,
    KIND_SPAM,
    GeneratedMention,
)
from connectors.demo.threads import ThreadBoard, ThreadTip
from connectors.demo.timeline import SPIKE_OUTAGE, SPIKE_VIRAL, Spike, default_spikes, iter_moments, plan_buckets
from connectors.demo.vocabulary import CITIES, Compiled
from connectors.demo.world import DEFAULT_WORLD, DemoBrand

# Cumulative shares of normal traffic by kind; the rest is direct mentions of a brand account.
P_SPAM = 0.043
P_NEWS = P_SPAM + 0.035
P_COMPETITOR = P_NEWS + 0.06
P_FOLLOWUP = P_COMPETITOR + 0.11
P_SEARCH = P_FOLLOWUP + 0.19
ESCALATE = {"low": "normal", "normal": "high", "high": "high", "critical": "critical"}
SPIKE_TOPICS = {"food_delivery": "courier", "telecom": "outage", "airline": "cancellation"}


def _by_language(english: Sequence[str], other: dict[str, tuple[str, ...]]) -> dict[str, tuple[Compiled, ...]]:
    table = {lang: compile_texts(texts) for lang, texts in other.items()}
    table["en"] = compile_texts(english)
    return table


class DemoStream:
    """Turns ``(time, spike)`` moments into generated mentions; shared by bulk and live feeds."""

    def __init__(
        self, seed: int, rng: Random, brands: Sequence[DemoBrand], *, stream: int, pool_size: int, end_ms: int
    ) -> None:
        self.r = rng.random
        self.c = Composer(seed, rng, brands, stream, pool_size)
        self.planner = OutcomePlanner(rng, end_ms, EPOCH)
        self.board = ThreadBoard()
        self.spike_roots: dict[int, ThreadTip] = {}
        self.by_name = {b.name: b for b in brands}
        self.waiting = _by_language(texts_en.FOLLOW_WAITING, texts_intl.FOLLOW_WAITING)
        self.thanks = _by_language(texts_en.FOLLOW_THANKS, texts_intl.FOLLOW_THANKS)
        self.same = compile_texts(texts_en.FOLLOW_SAME)
        self.spike_texts = {
            SPIKE_OUTAGE: compile_texts(texts_en.SPIKE_OUTAGE),
            SPIKE_VIRAL: compile_texts(texts_en.SPIKE_VIRAL[1:]),
            "storm": compile_texts(texts_en.SPIKE_STORM),
            "outage_news": compile_texts(texts_en.SPIKE_OUTAGE_NEWS),
        }
        self.press = compile_texts(texts_en.SPIKE_OUTAGE_PRESS)
        self.viral_root = compile_texts(texts_en.SPIKE_VIRAL[:1])[0]
        self.status_posts = {
            SPIKE_OUTAGE: compile_texts((texts_en.SPIKE_OUTAGE_BRAND_POST,))[0],
            "storm": compile_texts((texts_en.SPIKE_STORM_BRAND_POST,))[0],
        }

    def reset(self, *, end_ms: int, live_anchor_ms: int | None) -> None:
        """Forget open threads and incidents; the live feed calls this before each fetch."""
        self.planner = OutcomePlanner(self.c.rng, end_ms, EPOCH)
        self.c.live_anchor_ms = live_anchor_ms
        self.board = ThreadBoard()
        self.spike_roots = {}

    def next(
        self, ms: int, spike_index: int, spikes: Sequence[Spike], counter: int, fetched_ms: int
    ) -> GeneratedMention:
        """The mention generated at ``ms``; ``spike_index`` >= 0 inside an incident window."""
        if spike_index >= 0:
            return self._spike(ms, spikes[spike_index], spike_index, counter, fetched_ms)
        draw = self.r()
        if draw < P_SPAM:
            return self._spam(ms, counter, fetched_ms)
        brand: DemoBrand = self.c.brands.spin(self.r())
        if draw < P_NEWS:
            return self._news(ms, counter, fetched_ms, brand, self.c.news[brand.sector].spin(self.r()))
        if draw < P_COMPETITOR and self.c.competitors:
            rival = self.c.competitors[int(self.r() * len(self.c.competitors))]
            entry = self.c.competitor_topics.spin(self.r())
            return self._social(ms, counter, fetched_ms, rival, KIND_COMPETITOR, entry, tagged=self.r() < 0.3)
        if draw < P_FOLLOWUP:
            tip = self.board.pick(self.r(), ms)
            if tip is not None:
                return self._follow_up(ms, counter, fetched_ms, tip)
        kind = KIND_SEARCH if P_FOLLOWUP <= draw < P_SEARCH else KIND_DIRECT
        return self._social(ms, counter, fetched_ms, brand, kind, None, tagged=kind == KIND_DIRECT)

    # --- kinds of post ---------------------------------------------------------------------------

    def _social(
        self,
        ms: int,
        counter: int,
        fetched_ms: int,
        brand: DemoBrand,
        kind: str,
        entry: TopicEntry | None,
        *,
        tagged: bool,
    ) -> GeneratedMention:
        """A customer's own post about ``brand`` (a direct mention, keyword match or competitor chatter)."""
        c = self.c
        platform = c.platforms.spin(self.r())
        _, author, language = c.customer(platform)
        if entry is None:
            if (brand.sector, language) not in c.topics:
                language = "en"
            entry = c.topic(brand.sector, language)
        else:
            language = "en"
        topic, sentiment, urgency, templates = entry
        text = c.text(c.choose(templates), brand, platform, tagged=tagged)
        return self._emit(
            ms, counter, fetched_ms, brand, kind, platform, author, text, language, topic, sentiment, urgency
        )

    def _emit(
        self,
        ms: int,
        counter: int,
        fetched_ms: int,
        brand: DemoBrand,
        kind: str,
        platform: str,
        author: Author,
        text: str,
        language: str,
        topic: str,
        sentiment: str,
        urgency: str,
        *,
        root: ThreadTip | None = None,
        boost: float = 1.0,
    ) -> GeneratedMention:
        """Build the mention and its outcome, and open a thread for later follow-ups."""
        c = self.c
        link = (root.root_id, root.last_id) if root is not None else None
        mention = c.mention(
            ms=ms,
            fetched_ms=fetched_ms,
            counter=counter,
            platform=platform,
            author=author,
            text=text,
            language=language,
            kind=kind,
            metrics=c.metrics(author, boost=boost),
            sector=brand.sector,
            root=link,
        )
        outcome = self.planner.plan(
            mention, ms, brand=brand, kind=kind, topic=topic, sentiment=sentiment, urgency=urgency, counter=counter
        )
        if kind == KIND_DIRECT and sentiment != "positive" and platform != "rss":
            replied = int((outcome.acted_at - EPOCH).total_seconds() * 1000) if outcome and outcome.replied else None
            tip = ThreadTip(
                platform,
                brand.name,
                brand.sector,
                author,
                language,
                mention.external_id,
                mention.external_id,
                ms,
                topic,
                urgency,
                replied,
            )
            self.board.add(tip)
        return GeneratedMention(mention, brand.name, sentiment, urgency, topic, kind, outcome)

    def _follow_up(self, ms: int, counter: int, fetched_ms: int, tip: ThreadTip) -> GeneratedMention:
        """The customer comes back to their thread, or another customer chimes in."""
        brand = self.by_name[tip.brand]
        if self.r() < 0.25:
            _, author, _ = self.c.customer(tip.platform)
            text = self.c.text(self.c.choose(self.same), brand, tip.platform, tagged=True)
            return self._emit(
                ms,
                counter,
                fetched_ms,
                brand,
                KIND_FOLLOWUP,
                tip.platform,
                author,
                text,
                "en",
                tip.topic,
                "negative",
                "normal",
                root=replace(tip, last_id=tip.root_id),
            )
        answered = tip.replied_ms is not None and ms >= tip.replied_ms and self.r() < 0.75
        table = self.thanks if answered else self.waiting
        waited = max(1, (ms - tip.last_ms) // 3_600_000)
        template = self.c.choose(table.get(tip.language, table["en"]))
        text = self.c.text(template, brand, tip.platform, tagged=True, hours=waited)
        topic, sentiment, urgency = (
            ("followup_thanks", "positive", "low") if answered else (tip.topic, "negative", ESCALATE[tip.urgency])
        )
        made = self._emit(
            ms,
            counter,
            fetched_ms,
            brand,
            KIND_FOLLOWUP,
            tip.platform,
            tip.author,
            text,
            tip.language,
            topic,
            sentiment,
            urgency,
            root=tip,
        )
        tip.last_id, tip.last_ms, tip.depth = made.mention.external_id, ms, tip.depth + 1
        if answered:
            tip.depth = 99
        return made

    def _spam(self, ms: int, counter: int, fetched_ms: int) -> GeneratedMention:
        brand: DemoBrand = self.c.brands.spin(self.r())
        platform = "x" if self.r() < 0.7 else "bluesky"
        author = self.c.people.spam_author(platform, counter)
        text = self.c.text(self.c.choose(self.c.spam), brand, platform, tagged=True)
        return self._emit(
            ms, counter, fetched_ms, brand, KIND_SPAM, platform, author, text, "en", "spam", "neutral", "low"
        )

    def _news(
        self,
        ms: int,
        counter: int,
        fetched_ms: int,
        brand: DemoBrand,
        entry: TopicEntry,
    ) -> GeneratedMention:
        outlet, _ = self.c.people.outlet(brand.sector, int(self.r() * 1000))
        topic, sentiment, urgency, templates = entry
        text = self.c.text(self.c.choose(templates), brand, "rss", tagged=False)
        return self._emit(
            ms, counter, fetched_ms, brand, KIND_NEWS, "rss", outlet, text, "en", topic, sentiment, urgency
        )

    # --- incidents -------------------------------------------------------------------------------

    def _spike(self, ms: int, spike: Spike, index: int, counter: int, fetched_ms: int) -> GeneratedMention:
        """Traffic of an incident, all in the incident's city."""
        self.c.pinned = {"city": CITIES[(index * 11 + 5) % len(CITIES)]}
        try:
            return self._incident_post(ms, spike, index, counter, fetched_ms)
        finally:
            self.c.pinned = {}

    def press_question(
        self, ms: int, spike: Spike, index: int, counter: int, fetched_ms: int, which: int
    ) -> GeneratedMention:
        """A reporter asking the brand about incident ``index``: a critical post (the rubric's press cue)."""
        brand = self.by_name[spike.brand]
        self.c.pinned = {"city": CITIES[(index * 11 + 5) % len(CITIES)]}
        try:
            author = self.c.people.reporter("x", which)
            text = self.c.text(self.press[which % len(self.press)], brand, "x", tagged=True)
            topic = SPIKE_TOPICS[brand.sector]
            return self._emit(
                ms,
                counter,
                fetched_ms,
                brand,
                KIND_DIRECT,
                "x",
                author,
                text,
                "en",
                topic,
                "neutral",
                "critical",
                boost=5.0,
            )
        finally:
            self.c.pinned = {}

    def _incident_post(self, ms: int, spike: Spike, index: int, counter: int, fetched_ms: int) -> GeneratedMention:
        """Its opening post, replies piling on, and a wave of complaints."""
        brand = self.by_name[spike.brand]
        root = self.spike_roots.get(index)
        if root is None:
            return self._spike_root(ms, spike, index, counter, fetched_ms, brand)
        draw = self.r()
        topic = SPIKE_TOPICS[brand.sector]
        if draw < 0.4 and spike.kind in (SPIKE_OUTAGE, SPIKE_VIRAL):
            _, author, _ = self.c.customer(root.platform)
            text = self.c.text(self.c.choose(self.spike_texts[spike.kind]), brand, root.platform, tagged=True)
            pile_on = replace(root, last_id=root.root_id)
            return self._emit(
                ms,
                counter,
                fetched_ms,
                brand,
                KIND_FOLLOWUP,
                root.platform,
                author,
                text,
                "en",
                topic,
                "negative",
                "high",
                root=pile_on,
            )
        if draw < 0.47 and spike.kind == SPIKE_OUTAGE:
            entry = (topic, "negative", "normal", self.spike_texts["outage_news"])
            return self._news(ms, counter, fetched_ms, brand, entry)
        templates = self.spike_texts["storm" if spike.kind not in (SPIKE_OUTAGE, SPIKE_VIRAL) else spike.kind]
        kind = KIND_DIRECT if self.r() < 0.75 else KIND_SEARCH
        urgency = "critical" if self.r() < 0.05 else "high"
        return self._social(
            ms, counter, fetched_ms, brand, kind, (topic, "negative", urgency, templates), tagged=kind == KIND_DIRECT
        )

    def _spike_root(
        self, ms: int, spike: Spike, index: int, counter: int, fetched_ms: int, brand: DemoBrand
    ) -> GeneratedMention:
        """The post an incident gathers around: the brand's status update, or the viral complaint."""
        topic = SPIKE_TOPICS[brand.sector]
        if spike.kind == SPIKE_VIRAL:
            author = self.c.people.influencer("x")
            text = self.c.text(self.viral_root, brand, "x", tagged=True)
            made = self._emit(
                ms,
                counter,
                fetched_ms,
                brand,
                KIND_DIRECT,
                "x",
                author,
                text,
                "en",
                topic,
                "negative",
                "high",
                boost=40.0,
            )
        else:
            author = self.c.people.brand_account("x", brand.handles["x"], brand.name)
            text = self.c.text(self.status_posts.get(spike.kind, self.status_posts["storm"]), brand, "x", tagged=False)
            made = self._emit(
                ms, counter, fetched_ms, brand, KIND_BRAND_POST, "x", author, text, "en", topic, "neutral", "low"
            )
        mention = made.mention
        self.spike_roots[index] = ThreadTip(
            "x",
            brand.name,
            brand.sector,
            author,
            "en",
            mention.external_id,
            mention.external_id,
            ms,
            topic,
            "high",
            None,
        )
        return made


def generate_mentions(
    n: int,
    *,
    seed: int = 42,
    start: datetime,
    end: datetime,
    brands: Sequence[DemoBrand] = DEFAULT_WORLD.brands,
) -> Iterator[GeneratedMention]:
    """Stream ``n`` demo mentions between ``start`` and ``end``, in time order.

    The same arguments always give the same mentions.  Volume follows the hour of the week, with
    incident spikes when the range spans at least two days.  Raises ``ValueError`` for a negative
    ``n`` or an empty range.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    start, end = utc(start), utc(end)
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    return _stream(n, seed, start, end, tuple(brands))


def _stream(
    n: int, seed: int, start: datetime, end: datetime, brands: tuple[DemoBrand, ...]
) -> Iterator[GeneratedMention]:
    rng = Random(seed)
    spikes = default_spikes(start, end, [b.name for b in brands])
    end_ms = int(end.timestamp() * 1000)
    pool = max(400, min(n // 3, 3_000_000))
    stream = DemoStream(seed, rng, brands, stream=STREAM_BULK, pool_size=pool, end_ms=end_ms)
    r = rng.random
    for counter, (ms, spike_index) in enumerate(iter_moments(n, plan_buckets(start, end, spikes, rng), rng)):
        fetched_ms = min(ms + 4_000 + int(r() * 110_000), end_ms)
        yield stream.next(ms, spike_index, spikes, counter, fetched_ms)
