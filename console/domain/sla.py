"""SLA clocks: the targets per urgency, one response round's due times, and what a clock reads now.

A mention's clock runs in **rounds**.  The first round starts when the post was made (or fetched, for
teams whose sources are polled slowly) and is stopped by the brand's first reply.  A customer's
follow-up in a thread the brand already answered is a mention of its own whose round measures the
**next response**; reopening a resolved mention starts a next-response round at the reopen.  Due times
always derive from the round's start, so raising a mention to critical makes it due 15 minutes after it
was posted, not after the change.

Targets count business time of the brand's calendar unless a level says ``business_hours = false``;
outside opening hours a running clock reads **paused**.  A round is **at risk** once the configured
share of its target has passed (75 % by default), **breached** after its due time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.domain.business_hours import ALWAYS_OPEN, BusinessCalendar
from console.domain.durations import Duration, parse_duration

UrgencyLevel = Literal["critical", "high", "normal", "low"]
URGENCY_LEVELS: tuple[UrgencyLevel, ...] = ("critical", "high", "normal", "low")


class RoundKind(StrEnum):
    """What a response round measures."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"


class SlaTargets(BaseModel):
    """Targets for one urgency level; next response defaults to the first-response target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urgency: UrgencyLevel
    first_response: Duration
    next_response: Duration | None = None
    resolution: Duration | None = None
    business_hours: bool = True
    """Count the brand's opening hours only (``false``: round the clock, e.g. for safety issues)."""

    @field_validator("first_response", "next_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration such as '15m' or '4h'")
        return value

    def target(self, kind: RoundKind) -> timedelta:
        """The response target of a round of ``kind``."""
        if kind is RoundKind.NEXT_RESPONSE and self.next_response is not None:
            return self.next_response
        return self.first_response


def default_targets() -> list[SlaTargets]:
    """Critical 15 min / high 1 h / normal 4 h / low 24 h for the first response."""
    spec = [("critical", "15m", "4h"), ("high", "1h", "8h"), ("normal", "4h", "24h"), ("low", "24h", "72h")]
    return [
        SlaTargets(urgency=u, first_response=parse_duration(f), resolution=parse_duration(r))  # type: ignore[arg-type]
        for u, f, r in spec
    ]


class SlaPolicy(BaseModel):
    """The ``[sla]`` table: targets per urgency level and when a clock counts as at risk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: list[SlaTargets] = Field(default_factory=default_targets)
    at_risk_after: float = 0.75
    """Share of the target elapsed at which a running clock is at risk (and escalates to the supervisor)."""
    clock_starts: Literal["created", "fetched"] = "created"

    @field_validator("policies")
    @classmethod
    def _one_per_urgency(cls, value: list[SlaTargets]) -> list[SlaTargets]:
        seen = [p.urgency for p in value]
        dupes = sorted({u for u in seen if seen.count(u) > 1})
        if dupes:
            raise ValueError(f"one policy per urgency level; repeated: {', '.join(dupes)}")
        order = {u: i for i, u in enumerate(URGENCY_LEVELS)}
        return sorted(value, key=lambda p: order[p.urgency])

    @field_validator("at_risk_after")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError("must be between 0 and 1 (0.75 = at risk once three quarters of the target passed)")
        return value

    def targets(self, urgency: str | None) -> SlaTargets | None:
        """The level's targets; ``None`` when the level (or the mention's urgency) has none."""
        return next((p for p in self.policies if p.urgency == urgency), None)


@dataclass(frozen=True)
class Round:
    """One response round: when its clock started, when it is at risk and when it is due (UTC)."""

    kind: RoundKind
    started_at: datetime
    at_risk_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class BrandClock:
    """A brand's calendar and policy: everything a due time depends on besides the mention."""

    calendar: BusinessCalendar = ALWAYS_OPEN
    policy: SlaPolicy = SlaPolicy()

    def clock(self, urgency: str | None) -> BusinessCalendar:
        """The calendar a level's targets count in (24/7 where the level opts out of business hours)."""
        targets = self.policy.targets(urgency)
        return self.calendar if targets is None or targets.business_hours else ALWAYS_OPEN

    def plan(self, start: datetime, urgency: str | None, kind: RoundKind) -> Round | None:
        """The round starting at ``start``; ``None`` when the urgency has no target."""
        targets = self.policy.targets(urgency)
        if targets is None:
            return None
        target, clock = targets.target(kind), self.clock(urgency)
        at_risk = clock.add_business_time(start, target * self.policy.at_risk_after)
        return Round(kind, start, at_risk, clock.add_business_time(start, target))


ALWAYS_OPEN_CLOCK = BrandClock()


class ClockState(StrEnum):
    """What an agent reads on a mention's clock."""

    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    PAUSED = "paused"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"
    CLOSED = "closed"
    NONE = "none"


RUNNING_STATES = frozenset({ClockState.ON_TIME, ClockState.AT_RISK, ClockState.PAUSED, ClockState.BREACHED})


@dataclass(frozen=True)
class ClockReading:
    """A clock at one instant: its state and the business seconds left (negative once breached)."""

    state: ClockState
    due_at: datetime | None = None
    seconds_left: float | None = None
    response_seconds: float | None = None

    @property
    def running(self) -> bool:
        """True while the round waits for the brand."""
        return self.state in RUNNING_STATES


def read_clock(
    *,
    due_at: datetime | None,
    at_risk_at: datetime | None,
    started_at: datetime | None,
    responded_at: datetime | None,
    is_open: bool,
    now: datetime,
    clock: BusinessCalendar = ALWAYS_OPEN,
) -> ClockReading:
    """The state of a round at ``now`` on ``clock`` (the brand calendar, or 24/7 for levels that opt out)."""
    if due_at is None:
        return ClockReading(ClockState.NONE)
    if responded_at is not None:
        took = (responded_at - started_at).total_seconds() if started_at else None
        state = ClockState.MET if responded_at <= due_at else ClockState.MISSED
        return ClockReading(state, due_at, None, max(took, 0.0) if took is not None else None)
    if not is_open:
        return ClockReading(ClockState.CLOSED, due_at)
    left = clock.business_seconds(now, due_at) if now < due_at else -(now - due_at).total_seconds()
    if now >= due_at:
        return ClockReading(ClockState.BREACHED, due_at, left)
    if not clock.is_open(now):
        return ClockReading(ClockState.PAUSED, due_at, left)
    if at_risk_at is not None and now >= at_risk_at:
        return ClockReading(ClockState.AT_RISK, due_at, left)
    return ClockReading(ClockState.ON_TIME, due_at, left)
