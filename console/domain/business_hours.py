"""Business-hours calendars: when the team is at work, in its own time zone.

Response times and SLA due times are judged in business hours as well as in wall-clock
time, so that a mention posted on Friday evening is not counted as "ignored all weekend".
Opening hours are local wall-clock times; every computation goes through absolute UTC
instants, which makes DST days come out right (a 00:00-24:00 day lasts 23 h in spring
and 25 h in autumn).  Local times that do not exist (the spring-forward gap) or that
occur twice (fall-back) resolve with ``fold=0``: a gap time is read with the offset in
force before the change, an ambiguous time means its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_MAX_SCAN_DAYS = 3 * 366
"""How far a walk looks for open hours before giving up (long holiday lists)."""

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Interval = tuple[int, int]
"""Opening interval of one day, in minutes after local midnight: ``[start, end)``, end ≤ 1440."""


def parse_day_hours(text: str) -> tuple[Interval, ...]:
    """Parse ``"09:00-12:00, 13:00-17:00"`` into sorted minute intervals.

    ``""`` or ``"closed"`` means closed all day and ``"24h"`` means open all day.  Ranges
    may not cross midnight: a night shift is written as two days (``22:00-24:00`` and
    ``00:00-02:00``) so that holidays apply to the right local date.

    Raises:
        ValueError: with a message naming the bad piece.
    """
    text = text.strip().lower()
    if text in ("", "closed"):
        return ()
    if text in ("24h", "24/7"):
        return ((0, MINUTES_PER_DAY),)
    intervals = [_parse_range(part) for part in text.split(",")]
    intervals.sort()
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        if start < end:
            raise ValueError(f"{text!r}: intervals overlap")
    return tuple(intervals)


def _parse_range(part: str) -> Interval:
    match = _RANGE.match(part)
    if not match:
        raise ValueError(f"{part.strip()!r}: expected HH:MM-HH:MM, e.g. 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= MINUTES_PER_DAY or end > MINUTES_PER_DAY:
        raise ValueError(f"{part.strip()!r}: not a valid time of day (00:00 to 24:00)")
    if end <= start:
        raise ValueError(
            f"{part.strip()!r}: end must be after start; split a range that crosses midnight "
            "over two days (22:00-24:00 and 00:00-02:00)"
        )
    return (start, end)


def known_zone(value: str) -> str:
    """Validate an IANA time zone name (a pydantic validator for every ``timezone`` field)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/London'") from None
    return value


def _require_utc(t: datetime, name: str = "datetime") -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC); got naive {t.isoformat()}")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours in one time zone, minus holidays.

    Attributes:
        tz: The team's time zone; opening hours are local wall-clock times in it.
        weekly: Seven tuples of intervals, Monday first.
        holidays: Local dates on which the team is closed all day.
    """

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    weekly: tuple[tuple[Interval, ...], ...] = (((0, MINUTES_PER_DAY),),) * 7
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly hours need exactly 7 days, Monday first")
        if not any(self.weekly):
            raise ValueError("the calendar is never open: give hours for at least one weekday")

    @property
    def always_open(self) -> bool:
        """True for a 24/7 calendar, where business time equals wall-clock time."""
        return not self.holidays and all(day == ((0, MINUTES_PER_DAY),) for day in self.weekly)

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The UTC instants at which the team opens and closes on a local date."""
        if day in self.holidays:
            return []
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        return [
            (_local_to_utc(midnight, start), _local_to_utc(midnight, end)) for start, end in self.weekly[day.weekday()]
        ]

    def _intervals_after(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield open intervals day by day, starting the local day before ``t`` (DST overlap)."""
        day = t.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(_MAX_SCAN_DAYS):
            yield from self.open_intervals(day)
            day += timedelta(days=1)
        raise ValueError(f"no open hours within {_MAX_SCAN_DAYS} days of {t.isoformat()}")

    def is_open(self, t: datetime) -> bool:
        """Whether the team is at work at instant ``t`` (aware datetime)."""
        t = _require_utc(t)
        if self.always_open:
            return True
        day = t.astimezone(self.tz).date()
        return any(start <= t < end for start, end in self.open_intervals(day))

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of open time between two instants; negative when ``end`` is before ``start``.

        Why signed: callers that clamp (response times) do it explicitly, and "time left
        until due" is naturally negative once a target is overdue.
        """
        start, end = _require_utc(start, "start"), _require_utc(end, "end")
        if end < start:
            return -self.business_seconds(end, start)
        if self.always_open:
            return (end - start).total_seconds()
        total = 0.0
        day, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        while day <= last:
            for open_at, close_at in self.open_intervals(day):
                overlap = (min(close_at, end) - max(open_at, start)).total_seconds()
                total += max(overlap, 0.0)
            day += timedelta(days=1)
        return total

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of open time has passed since ``start``.

        Used for due times: a 1 h target on a mention that arrives Friday 16:45 with
        Mon-Fri 09:00-17:00 hours is due Monday 09:45.  A zero duration returns ``start``.
        """
        start = _require_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if self.always_open or duration == timedelta(0):
            return start + duration
        remaining = duration
        for open_at, close_at in self._intervals_after(start):
            if close_at <= start:
                continue
            begin = max(open_at, start)
            if begin + remaining <= close_at:
                return begin + remaining
            remaining -= close_at - begin
        raise AssertionError("unreachable: _intervals_from raises when it runs out")


def _local_to_utc(midnight: datetime, minutes: int) -> datetime:
    """Local wall-clock ``minutes`` after ``midnight`` as a UTC instant (``fold=0``)."""
    # Aware datetime + timedelta is wall-clock arithmetic in Python; astimezone resolves DST.
    return (midnight + timedelta(minutes=minutes)).astimezone(UTC)


ALWAYS_OPEN = BusinessCalendar()
"""The 24/7 calendar used when a brand configures none."""


class CalendarConfig(BaseModel):
    """The ``[brands.<name>.calendar]`` table of ``mentiondesk.toml``.

    Example::

        timezone = "Europe/London"
        hours = {mon = "09:00-17:00", tue = "09:00-12:00, 13:00-17:00", sat = "", sun = ""}
        holidays = ["2026-12-25", "2026-12-28"]

    Weekdays left out of ``hours`` are closed; leaving ``hours`` out entirely means 24/7.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    hours: Mapping[str, str] | None = None
    holidays: Sequence[date] = ()

    _known_zone = field_validator("timezone")(known_zone)

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if value is None:
            return None
        problems = []
        for key, text in value.items():
            if key.lower() not in WEEKDAYS:
                problems.append(f"{key!r} is not a weekday (use {', '.join(WEEKDAYS)})")
                continue
            try:
                parse_day_hours(text)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        if not any(parse_day_hours(text) for text in value.values()):
            raise ValueError("no weekday has opening hours; leave 'hours' out for 24/7")
        return {key.lower(): text for key, text in value.items()}

    def to_calendar(self) -> BusinessCalendar:
        """Build the calendar the SLA functions use."""
        if self.hours is None:
            weekly = ALWAYS_OPEN.weekly
        else:
            weekly = tuple(parse_day_hours(self.hours.get(day, "")) for day in WEEKDAYS)
        return BusinessCalendar(tz=ZoneInfo(self.timezone), weekly=weekly, holidays=frozenset(self.holidays))
