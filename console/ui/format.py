"""Human-readable times and labels for the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from console.domain.sla import ClockReading, ClockState
from console.ui.safe import md

PLATFORM_ICONS = {"x": "𝕏", "mastodon": "🐘", "bluesky": "🦋", "reddit": "👽", "rss": "📰", "demo": "🧪"}
SENTIMENT_CHIPS = {"negative": "🔴 negative", "neutral": "⚪ neutral", "positive": "🟢 positive"}
URGENCY_CHIPS = {"critical": "🚨 critical", "high": "🟠 high", "normal": "🔵 normal", "low": "⚪ low"}


def platform_words(platform: str) -> str:
    """A known platform's icon, or an unknown platform's name markdown-escaped (it is mention data)."""
    return PLATFORM_ICONS.get(platform) or md(platform, 20)


def duration_words(delta: timedelta) -> str:
    """``3 min``, ``2 h 5 min``, ``4 d`` — compact and unambiguous."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def age(created_at: datetime, now: datetime | None = None) -> str:
    """How long ago a post was made."""
    return duration_words((now or datetime.now(UTC)) - created_at) + " ago"


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    """A UTC time shown in the team's zone, with the zone named."""
    if at is None:
        return "—"
    return at.astimezone(zone).strftime("%a %d %b %H:%M %Z")


CLOCK_WORDS = {
    ClockState.ON_TIME: "🟢 on time",
    ClockState.AT_RISK: "🟠 at risk",
    ClockState.PAUSED: "⏸️ paused",
    ClockState.BREACHED: "🔴 breached",
    ClockState.MET: "✅ answered in time",
    ClockState.MISSED: "☑️ answered late",
    ClockState.CLOSED: "⚪ closed unanswered",
    ClockState.NONE: "— no SLA",
}
"""Each SLA state's colour and words, the same on every page."""


def sla_words(reading: ClockReading) -> str:
    """The clock in words: ``🟠 at risk · 12 min left``, ``⏸️ paused · 40 min left``, ``🔴 breached · 25 min ago``."""
    words = CLOCK_WORDS[reading.state]
    left = reading.seconds_left
    if reading.state is ClockState.BREACHED and left is not None:
        return f"{words} · {duration_words(timedelta(seconds=left))} ago"
    if reading.state is ClockState.PAUSED and left is not None:
        return f"{words} · {duration_words(timedelta(seconds=left))} left (outside business hours)"
    if reading.running and left is not None:
        return f"{words} · {duration_words(timedelta(seconds=left))} left"
    if reading.state in (ClockState.MET, ClockState.MISSED) and reading.response_seconds is not None:
        return f"{words} ({duration_words(timedelta(seconds=reading.response_seconds))})"
    return words
