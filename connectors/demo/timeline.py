"""When demo mentions happen: hour-of-week seasonality, noise, and a few incident spikes.

Volume is allocated to hourly buckets in proportion to their weight, then spread inside each
bucket as sorted uniform times, generated one at a time.  So the stream comes out in time order
in memory that depends on the length of the range, never on the number of mentions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR_MS = 3_600_000

# Relative volume by UTC hour of day: quiet at night, busy at lunch and in the evening.
DIURNAL = (
    0.30,
    0.22,
    0.16,
    0.13,
    0.13,
    0.18,
    0.35,
    0.62,
    0.90,
    1.05,
    1.10,
    1.15,
    1.22,
    1.18,
    1.10,
    1.05,
    1.05,
    1.12,
    1.22,
    1.32,
    1.34,
    1.20,
    0.90,
    0.55,
)
WEEKDAY = (1.12, 1.02, 1.0, 1.0, 1.04, 0.82, 0.88)
"""Monday to Sunday: Monday carries the weekend's backlog, Saturday is quiet."""

SPIKE_OUTAGE = "outage"
SPIKE_VIRAL = "viral"
SPIKE_STORM = "storm"


@dataclass(frozen=True, slots=True)
class Spike:
    """An incident window: extra volume about one brand, mostly negative.

    ``peak`` is the extra volume at the top, as a multiple of the normal volume; it rises within
    the first hour and decays over ``hours``.
    """

    kind: str
    brand: str
    start: datetime
    hours: int
    peak: float

    def boost_at(self, at: datetime) -> float:
        """Extra volume multiple at time ``at`` (0 outside the window)."""
        elapsed = (at - self.start).total_seconds() / 3600
        if elapsed < 0 or elapsed >= self.hours:
            return 0.0
        rise = min(1.0, (elapsed + 0.5) / 1.0)
        return self.peak * rise * math.exp(-2.0 * elapsed / self.hours)

    @property
    def end(self) -> datetime:
        """When the window closes."""
        return self.start + timedelta(hours=self.hours)


def default_spikes(start: datetime, end: datetime, brands: Sequence[str]) -> tuple[Spike, ...]:
    """Place the demo's incidents inside ``[start, end)``; none when the range is under two days."""
    span = end - start
    if span < timedelta(days=2):
        return ()

    def at(fraction: float) -> datetime:
        moment = start + span * fraction
        return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    plan = (
        Spike(SPIKE_VIRAL, "Parcelo Eats", at(0.36), 14, 5.0),
        Spike(SPIKE_OUTAGE, "Nimbus Mobile", at(0.63), 8, 9.0),
        Spike(SPIKE_STORM, "Skyline Air", at(0.84), 12, 3.0),
    )
    return tuple(s for s in plan if s.brand in brands)


def hour_weight(at: datetime) -> float:
    """Normal volume for the hour that contains ``at``."""
    return DIURNAL[at.hour] * WEEKDAY[at.weekday()]


def normal_per_weight(n: int, start: datetime, end: datetime, brands: Sequence[str]) -> float:
    """Mentions per hour of weight 1.0 outside incidents, in a history of ``n`` mentions over ``[start, end)``.

    :func:`iter_moments` shares ``n`` out in proportion to each hour's weight (seasonality times the
    incidents' extra, noise averaging out), so an hour of weight ``w`` outside incidents expects
    ``w`` times this.  The live feed continues the history at this rate.
    """
    spikes = default_spikes(start, end, brands)
    total, cursor = 0.0, start
    while cursor < end:
        length = min(timedelta(hours=1), end - cursor)
        middle = cursor + length / 2
        total += hour_weight(middle) * (length / timedelta(hours=1)) * (1.0 + sum(s.boost_at(middle) for s in spikes))
        cursor += length
    return n / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One hour (or the last part of one) of the range, with its share of the volume."""

    start_ms: int
    length_ms: int
    weight: float
    spike_extras: tuple[tuple[int, float], ...]


def plan_buckets(start: datetime, end: datetime, spikes: Sequence[Spike], rng: random.Random) -> list[Bucket]:
    """Split the range into hours, weighted by seasonality, noise and spikes."""
    start_ms = int(start.timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)
    buckets: list[Bucket] = []
    cursor = start_ms
    while cursor < end_ms:
        length = min(HOUR_MS, end_ms - cursor)
        middle = datetime.fromtimestamp((cursor + length / 2) / 1000, tz=UTC)
        extras = tuple((i, e) for i, s in enumerate(spikes) if (e := s.boost_at(middle)) > 0)
        noise = rng.lognormvariate(0.0, 0.18)
        base = hour_weight(middle) * noise * length / HOUR_MS
        buckets.append(Bucket(cursor, length, base * (1.0 + sum(e for _, e in extras)), extras))
        cursor += length
    return buckets


def iter_moments(n: int, buckets: Sequence[Bucket], rng: random.Random) -> Iterator[tuple[int, int]]:
    """Yield ``n`` ``(epoch_ms, spike_index)`` pairs in time order; spike_index is -1 for normal traffic."""
    total = sum(b.weight for b in buckets)
    if n <= 0 or total <= 0:
        return
    r = rng.random
    cumulative = 0.0
    allocated = 0
    for bucket in buckets:
        cumulative += bucket.weight
        target = round(n * cumulative / total)
        count, allocated = target - allocated, target
        share = sum(e for _, e in bucket.spike_extras)
        position = 0.0
        for remaining in range(count, 0, -1):
            position = 1.0 - (1.0 - position) * r() ** (1.0 / remaining)
            spike = -1
            if share:
                draw = r() * (1.0 + share)
                for index, extra in bucket.spike_extras:
                    if draw < extra:
                        spike = index
                        break
                    draw -= extra
            yield bucket.start_ms + min(int(position * bucket.length_ms), bucket.length_ms - 1), spike
