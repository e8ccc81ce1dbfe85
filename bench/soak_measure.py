"""What the soak counts at the end: lost, duplicated, double posted, latencies, and the backlog's slope.

Every count compares what the fake instances recorded (what they published, served and were sent) with
what the store holds, so nothing here trusts the worker's own account of what it did.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from bench.soak_fakes import FakeMastodon
from console.services.store import Store
from storage.models import Classification, Mention, Reply, Source


@dataclass
class Counts:
    """The end-of-run figures (see ``bench/soak.py`` for what each one means)."""

    published: int = 0
    served: int = 0
    stored: int = 0
    lost: int = 0
    lost_never_served: int = 0
    duplicated: int = 0
    unexpected: int = 0
    double_classified: int = 0
    unclassified: int = 0
    double_posted: int = 0
    key_replays: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    replies_sent_not_on_platform: int = 0
    posted_not_recorded: int = 0
    ingest_to_classified: list[float] = field(default_factory=list)
    published_to_classified: list[float] = field(default_factory=list)
    queued_to_sent: list[float] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank); NaN when there is nothing to rank."""
    if not values:
        return math.nan
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, math.ceil(q * len(ranked)) - 1))]


def slope_per_minute(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` samples, in value per minute."""
    if len(samples) < 2:
        return math.nan
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return math.nan
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 60


def _stored(store: Store, names: dict[int, int]) -> list[tuple[int, str, int, str | None, datetime, datetime]]:
    """(mention id, external id, instance, notification id, fetched_at, created_at) of the soak's mentions."""
    with store.read() as session:
        rows = session.execute(
            select(
                Mention.id,
                Mention.external_id,
                Mention.source_id,
                Mention.raw["data"]["id"].as_string(),
                Mention.fetched_at,
                Mention.created_at,
            ).where(Mention.source_id.in_(names))
        ).all()
    return [(i, ext, names[src], notif, fetched, created) for i, ext, src, notif, fetched, created in rows]


def source_instances(store: Store, prefix: str) -> dict[int, int]:
    """Source id -> fake instance number, for the sources named ``<prefix><n>``."""
    with store.read() as session:
        rows = session.execute(select(Source.id, Source.name).where(Source.name.startswith(prefix))).all()
    return {sid: int(name.removeprefix(prefix)) for sid, name in rows}


def count_mentions(counts: Counts, store: Store, fakes: Sequence[FakeMastodon], prefix: str) -> dict[int, datetime]:
    """Lost, duplicated and unexpected mentions; returns mention id -> fetched_at of the stored ones."""
    expected: dict[str, tuple[int, int]] = {}
    for fake in fakes:
        t = fake.timeline
        for status_id, k in t.valid_ids(t.published()).items():
            expected[status_id] = (t.instance, k)
        counts.served += len(fake.served)
    counts.published = len(expected)
    rows = _stored(store, source_instances(store, prefix))
    counts.stored = len(rows)
    by_status = Counter(ext for _, ext, _, _, _, _ in rows)
    by_item = Counter((instance, notif) for _, _, instance, notif, _, _ in rows)
    counts.duplicated = max(sum(n - 1 for n in by_status.values()), sum(n - 1 for n in by_item.values()))
    counts.unexpected = sum(1 for ext in by_status if ext not in expected)
    missing = [item for status_id, item in expected.items() if status_id not in by_status]
    counts.lost = len(missing)
    served = {(fake.timeline.instance, k) for fake in fakes for k in fake.served}
    counts.lost_never_served = sum(1 for item in missing if item not in served)
    return {mention_id: fetched for mention_id, _, _, _, fetched, _ in rows}


def count_classifications(counts: Counts, store: Store, fetched: dict[int, datetime]) -> None:
    """Mentions classified twice, or never; the time from fetch (and from publication) to classification."""
    with store.read() as session:
        rows = session.execute(
            select(Classification.mention_id, Classification.created_at, Mention.created_at)
            .join(Mention, Mention.id == Classification.mention_id)
            .where(Classification.is_current.is_(True), Mention.id.in_(list(fetched)))
        ).all()
    per_mention = Counter(mention_id for mention_id, _, _ in rows)
    counts.double_classified = sum(n - 1 for n in per_mention.values())
    counts.unclassified = sum(1 for mention_id in fetched if mention_id not in per_mention)
    for mention_id, classified_at, published_at in rows:
        counts.ingest_to_classified.append((classified_at - fetched[mention_id]).total_seconds())
        counts.published_to_classified.append((classified_at - published_at).total_seconds())


def count_replies(counts: Counts, store: Store, fakes: Sequence[FakeMastodon]) -> None:
    """Double posts on the platforms, and replies whose record and the platform disagree."""
    posts = [post for fake in fakes for post in fake.posts]
    per_target = Counter(post.in_reply_to_id for post in posts)
    per_key = Counter(post.idempotency_key for post in posts if post.idempotency_key)
    counts.double_posted = max(sum(n - 1 for n in per_target.values()), sum(n - 1 for n in per_key.values()))
    counts.key_replays = sum(fake.key_replays for fake in fakes)
    with store.read() as session:
        replies = session.execute(select(Reply.state, Reply.external_id, Reply.created_at, Reply.sent_at)).all()
    counts.replies = Counter(str(state.value) for state, _, _, _ in replies)
    on_platform = {post.status_id for post in posts}
    recorded = {external_id for state, external_id, _, _ in replies if state.value == "sent"}
    counts.replies_sent_not_on_platform = len(recorded - on_platform)
    counts.posted_not_recorded = len(on_platform - recorded)
    counts.queued_to_sent = [
        (sent_at - created_at).total_seconds() for state, _, created_at, sent_at in replies if sent_at is not None
    ]


def measure(store: Store, fakes: Sequence[FakeMastodon], prefix: str) -> Counts:
    """Every end-of-run count, after the drain."""
    counts = Counts()
    fetched = count_mentions(counts, store, fakes, prefix)
    count_classifications(counts, store, fetched)
    count_replies(counts, store, fakes)
    return counts
