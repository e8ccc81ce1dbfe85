"""The 0-100 priority of a mention, from text urgency and signals about its context.

Signals: who posted it, how fast it spreads, how long it has waited against the SLA, repeat contacts
and keyword rules.

A pure function of a small input record, so the worker, the console and tests compute it the same
way. It returns the score and the signals that made it, in points, largest first, so the console
can say *why* a mention is urgent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from classifiers.base import Signal


@dataclass(frozen=True)
class KeywordRule:
    """A configured phrase that adds ``points`` when it appears (case-insensitive, whole words)."""

    phrase: str
    points: float
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.phrase.strip():
            raise ValueError("keyword rule phrase must not be empty")
        if not -100 <= self.points <= 100:
            raise ValueError(f"keyword rule {self.phrase!r}: points must be within [-100, 100]")

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """Compiled whole-word pattern; spaces match any run of whitespace."""
        words = r"\s+".join(re.escape(w) for w in self.phrase.split())
        return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


DEFAULT_KEYWORD_RULES: tuple[KeywordRule, ...] = (
    KeywordRule("food poisoning", 20, "food-safety incident"),
    KeywordRule("lawyer", 15, "legal threat"),
    KeywordRule("lawsuit", 15, "legal threat"),
    KeywordRule("hacked", 20, "possible account takeover"),
    KeywordRule("data breach", 20, "possible data breach"),
    KeywordRule("unsafe", 15, "safety concern"),
)


@dataclass(frozen=True)
class PriorityWeights:
    """Maximum points per signal; the total is clipped to 0-100."""

    text: float = 55.0
    reach: float = 10.0
    verified: float = 4.0
    vip: float = 15.0
    velocity: float = 10.0
    sla: float = 20.0
    repeat: float = 10.0
    keywords: float = 25.0
    reach_full_at: int = 1_000_000  # followers for full reach points (log scale from 100)
    velocity_full_at: float = 100.0  # engagements per hour for full velocity points


@dataclass(frozen=True)
class PriorityInputs:
    """What is known about a mention when it is ranked."""

    text: str
    urgency_score: float
    urgency_signals: Sequence[Signal] = ()
    followers: int = 0
    verified: bool = False
    vip: bool = False
    engagement_per_hour: float = 0.0
    minutes_waiting: float = 0.0
    sla_minutes: float | None = None
    repeat_contacts_24h: int = 0


@dataclass(frozen=True)
class Priority:
    """A 0-100 score and the signals behind it (points, largest first)."""

    score: int
    signals: list[Signal] = field(default_factory=list)

    @property
    def why(self) -> str:
        """One line for the console, e.g. ``"reports a safety risk; waited 90% of SLA"``."""
        return "; ".join(s.reason for s in self.signals if s.contribution > 0)


def _log_share(value: float, floor: float, full: float) -> float:
    if value <= floor:
        return 0.0
    return min(1.0, math.log10(value / floor) / math.log10(full / floor))


def _text(inputs: PriorityInputs, w: PriorityWeights) -> Signal:
    score = min(1.0, max(0.0, inputs.urgency_score))
    top = next((s for s in inputs.urgency_signals if s.contribution > 0), None)
    reason = f"text urgency {score:.2f}" + (f": {top.reason}" if top else "")
    return Signal("text_urgency", round(score * w.text, 1), reason)


def _author(inputs: PriorityInputs, w: PriorityWeights) -> list[Signal]:
    signals = []
    reach = _log_share(inputs.followers, 100, w.reach_full_at)
    if reach:
        signals.append(Signal("author_reach", round(reach * w.reach, 1), f"author has {inputs.followers:,} followers"))
    if inputs.verified:
        signals.append(Signal("author_verified", w.verified, "author is verified"))
    if inputs.vip:
        signals.append(Signal("author_vip", w.vip, "author is on the VIP list"))
    return signals


def _timing(inputs: PriorityInputs, w: PriorityWeights) -> list[Signal]:
    signals = []
    velocity = _log_share(inputs.engagement_per_hour, 1.0, w.velocity_full_at)
    if velocity:
        reason = f"spreading fast: {inputs.engagement_per_hour:.0f} engagements/hour"
        signals.append(Signal("engagement_velocity", round(velocity * w.velocity, 1), reason))
    if inputs.sla_minutes and inputs.sla_minutes > 0 and inputs.minutes_waiting > 0:
        used = inputs.minutes_waiting / inputs.sla_minutes
        reason = (
            f"SLA breached {inputs.minutes_waiting - inputs.sla_minutes:.0f} min ago"
            if used >= 1
            else f"waited {used:.0%} of the {inputs.sla_minutes:.0f}-min SLA"
        )
        signals.append(Signal("sla", round(min(1.0, used) * w.sla, 1), reason))
    if inputs.repeat_contacts_24h > 0:
        points = min(w.repeat, 4.0 * inputs.repeat_contacts_24h)
        reason = f"{inputs.repeat_contacts_24h} earlier contact(s) from this author in 24 h"
        signals.append(Signal("repeat_contact", points, reason))
    return signals


def _keywords(text: str, rules: Iterable[KeywordRule], cap: float) -> list[Signal]:
    hits = [r for r in rules if r.pattern.search(text or "")]
    signals, total = [], 0.0
    for rule in sorted(hits, key=lambda r: -r.points):
        points = max(-cap, min(rule.points, cap - total))
        total += max(points, 0.0)
        reason = f'keyword "{rule.phrase}"' + (f": {rule.reason}" if rule.reason else "")
        signals.append(Signal(f"keyword:{rule.phrase}", round(points, 1), reason))
    return signals


def priority(
    inputs: PriorityInputs,
    *,
    weights: PriorityWeights | None = None,
    rules: Iterable[KeywordRule] = DEFAULT_KEYWORD_RULES,
    top: int = 3,
) -> Priority:
    """Score a mention 0-100 and keep the ``top`` signals that raised (or lowered) it most."""
    w = weights or PriorityWeights()
    signals = [_text(inputs, w), *_author(inputs, w), *_timing(inputs, w), *_keywords(inputs.text, rules, w.keywords)]
    total = sum(s.contribution for s in signals)
    ranked = sorted((s for s in signals if s.contribution), key=lambda s: -abs(s.contribution))
    return Priority(int(round(min(100.0, max(0.0, total)))), ranked[:top])
