"""Composes single demo posts: topic and text, author, ids, URL, payload and engagement.

Everything heavy (template parsing, weight tables) happens once in ``Composer.__init__``; the
per-post work is table look-ups and a few draws from one ``random.Random``.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

from connectors.base import (
    REASON_BRAND_POST,
    REASON_LISTEN_ONLY,
    REASON_NEWS,
    REASON_REPLYABLE,
    REASON_SEARCH_ONLY,
    Author,
    Mention,
    Metrics,
    stamp_payload,
)
from connectors.demo import platforms, texts_en, texts_intl
from connectors.demo.people import AuthorBook
from connectors.demo.records import (
    KIND_BRAND_POST,
    KIND_DIRECT,
    KIND_FOLLOWUP,
    KIND_NEWS,
    KIND_SPAM,
)
from connectors.demo.texts_en import Topic
from connectors.demo.vocabulary import Compiled, compile_template, render
from connectors.demo.world import DemoBrand

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PLATFORM_MIX = (("x", 55), ("bluesky", 18), ("reddit", 14), ("mastodon", 13))
"""Percent of social posts by network."""

LIVE_ID_STEP_MS = 250
"""Id time step per live post: ids advance faster than a few posts a second ever arrive."""

TopicEntry = tuple[str, str, str, tuple[Compiled, ...]]


T = TypeVar("T")


class Wheel(Generic[T]):
    """Weighted choice over precomputed entries by one draw and a binary search."""

    def __init__(self, entries: Sequence[T], weights: Sequence[float]) -> None:
        self.entries = tuple(entries)
        self._cumulative = tuple(accumulate(weights))
        self._total = self._cumulative[-1]

    def spin(self, draw: float) -> T:
        """The entry at ``draw`` (a uniform in ``[0, 1)``)."""
        return self.entries[bisect(self._cumulative, draw * self._total)]


def compile_topics(topics: Sequence[Topic]) -> Wheel[TopicEntry]:
    """A wheel over ``(topic, sentiment, urgency, templates)`` weighted by the topics' weights."""
    entries = [
        (name, mood, urgency, tuple(compile_template(t) for t in texts)) for name, mood, urgency, _, texts in topics
    ]
    return Wheel(entries, [weight for *_, weight, _ in topics])


def compile_texts(texts: Sequence[str]) -> tuple[Compiled, ...]:
    """Parse a list of plain templates."""
    return tuple(compile_template(t) for t in texts)


def _topic_tables() -> dict[tuple[str, str], Wheel[TopicEntry]]:
    sectors = {"airline": texts_en.AIRLINE, "telecom": texts_en.TELECOM, "food_delivery": texts_en.FOOD}
    tables = {(sector, "en"): compile_topics(topics + texts_en.GENERIC) for sector, topics in sectors.items()}
    for lang, by_sector in texts_intl.INBOUND.items():
        for sector, topics in by_sector.items():
            tables[(sector, lang)] = compile_topics(topics)
    return tables


class Composer:
    """Builds posts for one run; ``stream`` keeps bulk, live and reply ids apart."""

    def __init__(self, seed: int, rng: Random, brands: Sequence[DemoBrand], stream: int, pool_size: int) -> None:
        self.rng = rng
        self.r = rng.random
        self.seed = seed
        self.stream = stream
        self.pool_size = pool_size
        self.people = AuthorBook(seed)
        own = [b for b in brands if not b.is_competitor]
        if not own:
            raise ValueError("the demo needs at least one brand that is not a competitor")
        self.brands = Wheel(own, [b.volume_share or 1.0 for b in own])
        self.competitors = tuple(b for b in brands if b.is_competitor and b.competitor_of in {o.name for o in own})
        self.platforms = Wheel([p for p, _ in PLATFORM_MIX], [w for _, w in PLATFORM_MIX])
        self.topics = _topic_tables()
        self.competitor_topics = compile_topics(texts_en.COMPETITOR)
        self.news = {sector: compile_topics(topics) for sector, topics in texts_en.NEWS.items()}
        self.spam = compile_texts(texts_en.SPAM)
        self.live_anchor_ms: int | None = None
        self.pinned: dict[str, str] = {}
        """Slots held fixed for a while, e.g. the city an incident happens in."""

    def choose(self, options: Sequence[Compiled]) -> Compiled:
        """A uniformly chosen template."""
        return options[int(self.r() * len(options))]

    def customer(self, platform: str) -> tuple[int, Author, str]:
        """A customer drawn with a heavy head: regulars post often, most people once."""
        index = int(self.pool_size * self.r() ** 1.4)
        author, language = self.people.customer(platform, index)
        return index, author, language

    def topic(self, sector: str, language: str) -> TopicEntry:
        """A topic for a post in ``language``, falling back to English where there are no texts."""
        wheel = self.topics.get((sector, language)) or self.topics[(sector, "en")]
        return wheel.spin(self.r())

    def text(
        self, template: Compiled, brand: DemoBrand, platform: str, *, tagged: bool, hours: int | None = None
    ) -> str:
        """Render ``template``, tagging the brand account or only naming the brand.

        ``hours`` pins the ``{hours}`` slot, so "3 hours and nothing" matches the real wait.
        """
        tag = brand.mention_tag(platform) if tagged and platform != "rss" else brand.name
        given = {"brand": tag} if hours is None else {"brand": tag, "hours": str(hours)}
        if self.pinned:
            given.update(self.pinned)
        return render(template, self.r, given)

    def metrics(self, author: Author, *, boost: float = 1.0) -> Metrics:
        """Engagement that grows with the audience, mostly tiny."""
        r = self.r
        reach = (author.followers + 20) ** 0.5 * boost
        likes = int(reach * r() ** 3)
        return Metrics(likes=likes, reposts=int(likes * r() * 0.3), replies=int(reach * r() ** 4 * 0.2), quotes=0)

    def mention(
        self,
        *,
        ms: int,
        fetched_ms: int,
        counter: int,
        platform: str,
        author: Author,
        text: str,
        language: str,
        kind: str,
        metrics: Metrics,
        sector: str,
        root: tuple[str, str] | None = None,
    ) -> Mention:
        """Assemble a stamped, platform-shaped :class:`Mention`.

        ``root`` is ``(conversation_id, in_reply_to_id)`` for a post in a thread.  The live feed
        sets ``live_anchor_ms`` so ids follow its cursor, not the clock, and a replay repeats them.
        """
        created = EPOCH + timedelta(milliseconds=ms)
        fetched = EPOCH + timedelta(milliseconds=fetched_ms)
        id_ms = ms if self.live_anchor_ms is None else self.live_anchor_ms + counter * LIVE_ID_STEP_MS
        if platform == "rss":
            return self._news_item(created, fetched, counter, author, text, id_ms)
        raw_id = platforms.mint_id(platform, id_ms, self.stream, counter, is_comment=root is not None)
        ext_id = platforms.external_id(platform, raw_id, author)
        conversation, in_reply_to = root if root else (ext_id, None)
        subs = platforms.SUBREDDITS[sector]
        subreddit = subs[counter % len(subs)]
        replyable, reason = self._reply_policy(kind, platform)
        payload = platforms.raw_payload(
            platform, ext_id, text, created, author, language, metrics, conversation, in_reply_to, subreddit
        )
        url = platforms.post_url(platform, ext_id, author, subreddit, conversation)
        return Mention(
            platform=platform,
            external_id=ext_id,
            text=text,
            created_at=created,
            author=author,
            url=url,
            language=language,
            conversation_id=conversation,
            in_reply_to_id=in_reply_to,
            metrics=metrics,
            replyable=replyable,
            replyable_reason=reason,
            is_brand_post=kind == KIND_BRAND_POST,
            raw=stamp_payload(payload, url=f"demo://{platform}/{kind}?seed={self.seed}", retrieved_at=fetched),
            fetched_at=fetched,
        )

    @staticmethod
    def _reply_policy(kind: str, platform: str) -> tuple[bool, str]:
        if kind in (KIND_DIRECT, KIND_FOLLOWUP, KIND_SPAM):
            return True, REASON_REPLYABLE
        if kind == KIND_BRAND_POST:
            return False, REASON_BRAND_POST
        if kind == KIND_NEWS:
            return False, REASON_NEWS
        return False, REASON_SEARCH_ONLY if platform == "x" else REASON_LISTEN_ONLY

    def _news_item(
        self, created: datetime, fetched: datetime, counter: int, outlet: Author, text: str, id_ms: int
    ) -> Mention:
        domain = outlet.handle
        slug = "-".join(text.lower().replace(",", "").split()[:7])
        day = EPOCH + timedelta(milliseconds=id_ms)
        url = f"https://{domain}/news/{day:%Y/%m/%d}/{slug}-{counter:x}-{self.stream}"
        entry = {"id": url, "title": text, "link": url, "published": created.isoformat(), "author": outlet.display_name}
        return Mention(
            platform="rss",
            external_id=url,
            text=text,
            created_at=created,
            author=outlet,
            url=url,
            language="en",
            replyable=False,
            replyable_reason=REASON_NEWS,
            raw=stamp_payload(entry, url=outlet.external_id, retrieved_at=fetched),
            fetched_at=fetched,
        )
