"""Human-readable times and labels for the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PLATFORM_ICONS = {"x": "𝕏", "mastodon": "🐘", "bluesky": "🦋", "reddit": "👽", "rss": "📰", "demo": "🧪"}
SENTIMENT_CHIPS = {"negative": "🔴 negative", "neutral": "⚪ neutral", "positive": "🟢 positive"}
URGENCY_CHIPS = {"critical": "🚨 critical", "high": "🟠 high", "normal": "🔵 normal", "low": "⚪ low"}


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


def sla_state(due: datetime | None, now: datetime | None = None, at_risk: timedelta = timedelta(minutes=15)) -> str:
    """On time, at risk or breached — as a colour and in words."""
    if due is None:
        return "no SLA"
    left = due - (now or datetime.now(UTC))
    if left.total_seconds() < 0:
        return f"🔴 breached {duration_words(left)} ago"
    if left <= at_risk:
        return f"🟠 at risk: {duration_words(left)} left"
    return f"🟢 on time: {duration_words(left)} left"
