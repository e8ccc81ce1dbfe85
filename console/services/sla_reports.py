"""Report aggregations over SLA measurements: median, p90, share within SLA, by group and period.

Pure functions over lists of :class:`~console.services.sla.Measurement`, so the dashboard,
the export and the tests share one definition.  Percentiles interpolate linearly between
ranks, which is what numpy's default and PostgreSQL's ``percentile_cont`` compute, so a
figure pushed down into SQL later still matches.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from console.services.sla import Measurement, Metric

GroupKey = Literal["brand", "platform", "agent", "urgency", "day", "week", "metric"]
NO_AGENT = "(unassigned)"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    Raises:
        ValueError: on an empty sequence or ``q`` outside 0-100.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0-100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Aggregate of one group.

    Attributes:
        count: Completed measurements (the ones medians are taken over).
        running: Measurements without an end yet: unanswered rounds, unresolved mentions.
        median_seconds: Median of completed times, ``None`` without any.
        p90_seconds: 90th percentile of completed times.
        judged: Measurements with a decided target (completed, or running and overdue).
        within_sla: Share of ``judged`` that met the target; ``None`` when nothing was judged.
    """

    count: int
    running: int
    median_seconds: float | None
    p90_seconds: float | None
    judged: int
    within_sla: float | None


def summarize(measurements: Iterable[Measurement], *, business: bool = False) -> Summary:
    """Summarise measurements of one metric, on wall-clock or business seconds.

    Running measurements already past due count as misses in the SLA share: leaving
    them out would make an ignored backlog look like good compliance.
    """
    items = list(measurements)
    times = [_seconds(m, business) for m in items if m.end is not None]
    done = [t for t in times if t is not None]
    judged = [m.met for m in items if m.met is not None]
    return Summary(
        count=len(done),
        running=sum(1 for m in items if m.end is None),
        median_seconds=percentile(done, 50) if done else None,
        p90_seconds=percentile(done, 90) if done else None,
        judged=len(judged),
        within_sla=sum(judged) / len(judged) if judged else None,
    )


def _seconds(m: Measurement, business: bool) -> float | None:
    return m.business_seconds if business else m.wall_seconds


def key_function(key: GroupKey, tz: tzinfo = UTC) -> Callable[[Measurement], str]:
    """How to label a measurement for a breakdown; days and weeks are the team's local ones.

    A measurement belongs to the day or ISO week in which its clock started, so a
    period's figures do not change when late replies arrive for the next period.
    """
    simple: dict[str, Callable[[Measurement], str]] = {
        "brand": lambda m: m.brand,
        "platform": lambda m: m.platform,
        "agent": lambda m: m.agent or NO_AGENT,
        "urgency": lambda m: m.urgency.value,
        "metric": lambda m: m.metric.value,
        "day": lambda m: m.start.astimezone(tz).date().isoformat(),
        "week": lambda m: _iso_week(m.start.astimezone(tz)),
    }
    if key not in simple:
        raise ValueError(f"unknown group key {key!r}; use one of {', '.join(simple)}")
    return simple[key]


def _iso_week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year}-W{week:02d}"


def summarize_by(
    measurements: Iterable[Measurement],
    key: GroupKey,
    *,
    metric: Metric | None = None,
    business: bool = False,
    tz: tzinfo = UTC,
) -> dict[str, Summary]:
    """Breakdown by brand, platform, agent, urgency, day or week, sorted by label.

    Pass ``metric`` unless the list holds one metric only: a median over first-response
    and resolution times mixed together means nothing.
    """
    label = key_function(key, tz)
    groups: dict[str, list[Measurement]] = defaultdict(list)
    for m in measurements:
        if metric is None or m.metric is metric:
            groups[label(m)].append(m)
    return {name: summarize(groups[name], business=business) for name in sorted(groups)}


@dataclass(frozen=True)
class PeriodComparison:
    """A summary beside the one of the period of equal length just before it.

    Deltas are current minus previous; ``None`` when either side has no value.
    """

    current: Summary
    previous: Summary
    count_delta: int
    median_delta: float | None
    p90_delta: float | None
    within_sla_delta: float | None


def compare_periods(
    measurements: Iterable[Measurement],
    start: datetime,
    end: datetime,
    *,
    metric: Metric | None = None,
    business: bool = False,
) -> PeriodComparison:
    """Summarise ``[start, end)`` and the previous period ``[start - (end - start), start)``."""
    if end <= start:
        raise ValueError(f"period end {end.isoformat()} must be after start {start.isoformat()}")
    previous_start = start - (end - start)
    current: list[Measurement] = []
    previous: list[Measurement] = []
    for m in measurements:
        if metric is not None and m.metric is not metric:
            continue
        if start <= m.start < end:
            current.append(m)
        elif previous_start <= m.start < start:
            previous.append(m)
    now, before = summarize(current, business=business), summarize(previous, business=business)
    return PeriodComparison(
        current=now,
        previous=before,
        count_delta=now.count - before.count,
        median_delta=_delta(now.median_seconds, before.median_seconds),
        p90_delta=_delta(now.p90_seconds, before.p90_seconds),
        within_sla_delta=_delta(now.within_sla, before.within_sla),
    )


def _delta(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else current - previous
