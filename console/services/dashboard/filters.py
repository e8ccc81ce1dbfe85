"""What a dashboard is narrowed to, and the WHERE clauses and local-time roll-ups every query shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from storage.models import Mention

Granularity = Literal["hour", "day"]
AXIS_DAY = "%a %-d %b"
AXIS_HOUR = "%a %-d %b %H:%M"
"""How days and hours read on the dashboard's axes and tooltips (d3 formats): ``Fri 27 Nov``, ``Fri 27 Nov 14:00``."""
HOURLY_UP_TO = timedelta(days=3)
"""Ranges up to this long are charted by hour, longer ones by day."""


@dataclass(frozen=True)
class DashboardFilters:
    """A date range ``[start, end)`` (aware datetimes), brands and platforms; empty means all.

    ``now`` pins "overdue" and backlog ages for tests and benchmarks; ``None`` is the clock.
    """

    start: datetime
    end: datetime
    brand_ids: Sequence[int] = ()
    platforms: Sequence[str] = ()
    timezone: str = "UTC"
    now: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} must be after start {self.start.isoformat()}")
        ZoneInfo(self.timezone)  # raises on an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        """The team's zone, in which days start."""
        return ZoneInfo(self.timezone)

    @property
    def previous_start(self) -> datetime:
        """Start of the period of equal length just before this one."""
        return self.start - (self.end - self.start)

    @property
    def current_end(self) -> datetime:
        """Where the range's data ends: its end, or now while the range is still running."""
        return min(self.end, max(self.clock(), self.start))

    @property
    def previous_end(self) -> datetime:
        """End of the earlier period compared with: as far into it as the range has run (like with like)."""
        return self.previous_start + (self.current_end - self.start)

    @property
    def granularity(self) -> Granularity:
        """Hourly buckets for short ranges, daily for longer ones."""
        return "hour" if self.end - self.start <= HOURLY_UP_TO else "day"

    def clock(self) -> datetime:
        """The instant "now" means for this dashboard."""
        return self.now or datetime.now(UTC)


def scope(filters: DashboardFilters, *, brands: bool = True) -> list[Any]:
    """Inbound mentions of the chosen brands and platforms (no date condition)."""
    clauses: list[Any] = [Mention.is_brand_post.is_(False)]
    if brands and filters.brand_ids:
        clauses.append(Mention.brand_id.in_(list(filters.brand_ids)))
    if filters.platforms:
        clauses.append(Mention.platform.in_(list(filters.platforms)))
    return clauses


def in_range(filters: DashboardFilters) -> list[Any]:
    """``created_at`` within the range: the indexed condition."""
    return [Mention.created_at >= filters.start, Mention.created_at < filters.end]


def local_periods(hours: pd.Series, filters: DashboardFilters) -> pd.Series:
    """UTC hour buckets as the team's local hours or days (tz-aware), right across DST changes."""
    local = pd.to_datetime(hours, utc=True).dt.tz_convert(filters.timezone)
    return local.dt.normalize() if filters.granularity == "day" else local


def with_periods(hourly: pd.DataFrame, filters: DashboardFilters) -> pd.DataFrame:
    """The hourly frame with its local ``period`` added once, for every series cut from it."""
    if "period" in hourly or hourly.empty:
        return hourly
    from console.services.sql_time import parse_hour

    hours = hourly["hour"]
    if hours.map(type).eq(str).any():  # SQLite's text buckets; PostgreSQL's come as aware datetimes
        hours = hours.map(parse_hour)
    return hourly.assign(period=local_periods(hours, filters))


def day_words(day: date) -> str:
    """``Fri 27 Nov``: a day as the axes, tooltips and tables show it."""
    return f"{day:%a} {day.day} {day:%b}"


def date_words(day: date) -> str:
    """``27 Nov 2026``: a date as captions and help texts show it."""
    return f"{day.day} {day:%b %Y}"


def moment_words(at: datetime, zone: ZoneInfo, *, year: bool = False) -> str:
    """``Fri 27 Nov 14:05`` (or ``27 Nov 2026 14:05``): an instant in the team's zone."""
    local = at.astimezone(zone)
    return f"{date_words(local) if year else day_words(local)} {local:%H:%M}"
