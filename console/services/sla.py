"""Response times and SLA states, as pure functions over a mention's timeline.

Definitions follow the help-desk conventions Chatwoot and Zammad document:

* **first response**: mention created on the platform -> first brand reply sent;
* **next response**: a customer's follow-up -> the next brand reply.  Only follow-ups after
  the first reply open a round (earlier ones are covered by the first response), and
  further follow-ups while a round is open do not restart its clock, so a thread yields
  one measurement per back-and-forth;
* **resolution**: created -> resolved.  A mention reopened after being resolved counts to
  its final resolution; while reopened it has none;
* **ingestion lag**: created -> fetched by mentiondesk, kept apart so that the team is
  not blamed for API delay.

Every measurement is given in wall-clock seconds and in business seconds of the brand's
calendar.  Clocks start at the platform's ``created_at``.  A brand reply can be older
than the fetch (someone answered in the platform's own app first): that is a fast
response, measured from ``created_at`` as usual.  Platform clocks can disagree by a few
seconds, so a reply stamped before ``created_at`` counts as 0 s, never negative.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from console.services.business_hours import ALWAYS_OPEN, BusinessCalendar
from storage.enums import Urgency


class Metric(StrEnum):
    """The four time measurements."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"
    INGESTION_LAG = "ingestion_lag"


class EventKind(StrEnum):
    """What can happen in a mention's thread after it is created and fetched."""

    FOLLOW_UP = "follow_up"
    REPLY = "reply"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class SlaState(StrEnum):
    """Chatwoot's applied-SLA states; ``active_with_misses`` is open with a target already missed."""

    ACTIVE = "active"
    HIT = "hit"
    MISSED = "missed"
    ACTIVE_WITH_MISSES = "active_with_misses"


@dataclass(frozen=True)
class ThreadEvent:
    """One event after creation; ``agent`` is who replied or changed the status."""

    kind: EventKind
    at: datetime
    agent: str | None = None


@dataclass(frozen=True)
class MentionTimeline:
    """Everything the time definitions need about one mention (all datetimes aware)."""

    mention_id: str
    created_at: datetime
    fetched_at: datetime
    urgency: Urgency = Urgency.NORMAL
    events: tuple[ThreadEvent, ...] = ()
    brand: str = ""
    platform: str = ""

    def __post_init__(self) -> None:
        stamps = [("created_at", self.created_at), ("fetched_at", self.fetched_at)]
        stamps += [(f"events[{i}].at", e.at) for i, e in enumerate(self.events)]
        for name, value in stamps:
            if value.tzinfo is None:
                raise ValueError(f"mention {self.mention_id}: {name} must be timezone-aware (UTC)")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """Accept ``"15m"``, ``"1h"``, ``"3d"`` in config besides pydantic's own forms."""
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


class Targets(BaseModel):
    """Targets for one urgency level; ``None`` means the metric has no target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: timedelta
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    business_hours: bool = True
    """Whether targets count business hours of the brand calendar or round-the-clock time."""

    @field_validator("first_response", "next_response", "resolution", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("first_response", "next_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration such as '15m' or '4h'")
        return value

    def for_metric(self, metric: Metric) -> timedelta | None:
        """The target for a metric (ingestion lag never has one)."""
        return {
            Metric.FIRST_RESPONSE: self.first_response,
            Metric.NEXT_RESPONSE: self.next_response or self.first_response,
            Metric.RESOLUTION: self.resolution,
        }.get(metric)


def _default_targets() -> dict[Urgency, Targets]:
    h = timedelta(hours=1)
    return {
        Urgency.CRITICAL: Targets(first_response=timedelta(minutes=15), resolution=4 * h),
        Urgency.HIGH: Targets(first_response=h, resolution=8 * h),
        Urgency.NORMAL: Targets(first_response=4 * h, resolution=24 * h),
        Urgency.LOW: Targets(first_response=24 * h, resolution=72 * h),
    }


class SlaPolicy(BaseModel):
    """SLA targets per urgency.  Next response defaults to the first-response target.

    ``clock_starts = "fetched"`` judges targets from the fetch instead of the platform's
    creation time, for teams whose sources are polled slowly; measured times stay
    created-based either way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: Mapping[Urgency, Targets] = _default_targets()
    at_risk_share: float = 0.25
    clock_starts: Literal["created", "fetched"] = "created"

    @field_validator("targets")
    @classmethod
    def _all_levels(cls, value: Mapping[Urgency, Targets]) -> Mapping[Urgency, Targets]:
        missing = [level.value for level in Urgency if level not in value]
        if missing:
            raise ValueError(f"missing targets for urgency {', '.join(missing)}")
        return value

    @field_validator("at_risk_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError("must be between 0 and 1 (0.25 = at risk with a quarter of the target left)")
        return value


DEFAULT_POLICY = SlaPolicy()


@dataclass(frozen=True)
class Measurement:
    """One measured (or still running) time; ``end``/seconds are ``None`` while running.

    ``met`` is ``True``/``False`` once decided, ``None`` while running and not yet due or
    when the metric has no target.
    """

    mention_id: str
    metric: Metric
    start: datetime
    end: datetime | None
    wall_seconds: float | None
    business_seconds: float | None
    urgency: Urgency
    brand: str = ""
    platform: str = ""
    agent: str | None = None
    due_at: datetime | None = None
    met: bool | None = None


def due_at(
    start: datetime,
    urgency: Urgency,
    calendar: BusinessCalendar = ALWAYS_OPEN,
    policy: SlaPolicy = DEFAULT_POLICY,
    metric: Metric = Metric.FIRST_RESPONSE,
) -> datetime | None:
    """When a target falls due; call again with the new urgency when it changes.

    Due times are always derived from the original start, so raising a mention to
    critical makes it due 15 min after it was created, not 15 min after the change.
    """
    targets = policy.targets[urgency]
    target = targets.for_metric(metric)
    if target is None:
        return None
    if targets.business_hours:
        return calendar.add_business_time(start, target)
    return start.astimezone(UTC) + target


def _elapsed(start: datetime, end: datetime, calendar: BusinessCalendar) -> tuple[float, float]:
    """Wall and business seconds, clamped at 0 against clock skew between platforms."""
    wall = max((end - start).total_seconds(), 0.0)
    return wall, max(calendar.business_seconds(start, end), 0.0) if wall else 0.0


def _rounds(timeline: MentionTimeline) -> list[tuple[Metric, datetime, ThreadEvent | None]]:
    """Pair each clock start with the reply that stops it (``None``: still waiting)."""
    rounds: list[tuple[Metric, datetime, ThreadEvent | None]] = []
    open_since: datetime | None = timeline.created_at
    metric = Metric.FIRST_RESPONSE
    for event in sorted(timeline.events, key=lambda e: e.at):
        if event.kind is EventKind.REPLY and open_since is not None:
            rounds.append((metric, open_since, event))
            open_since, metric = None, Metric.NEXT_RESPONSE
        elif event.kind is EventKind.FOLLOW_UP and open_since is None:
            open_since = event.at
    if open_since is not None:
        rounds.append((metric, open_since, None))
    return rounds


def _resolution(timeline: MentionTimeline) -> ThreadEvent | None:
    """The resolve event that still stands.

    A later reopen cancels it, and so does a customer follow-up: like Chatwoot and Zammad,
    a new message on a resolved conversation reopens it, even when nobody recorded that.
    """
    final: ThreadEvent | None = None
    for event in sorted(timeline.events, key=lambda e: e.at):
        if event.kind is EventKind.RESOLVED:
            final = event
        elif event.kind in (EventKind.REOPENED, EventKind.FOLLOW_UP):
            final = None
    return final


def measure(
    timeline: MentionTimeline,
    calendar: BusinessCalendar = ALWAYS_OPEN,
    policy: SlaPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> list[Measurement]:
    """All measurements of one mention, judged against its urgency's targets at ``now``.

    A running target is judged at the final resolution if there is one (resolving stops
    every clock), else at ``now``: past its due time it is already a miss.
    """
    now = now or datetime.now(UTC)
    resolved = _resolution(timeline)
    judge_at = resolved.at if resolved else now
    sla_start = timeline.fetched_at if policy.clock_starts == "fetched" else timeline.created_at
    spans: list[tuple[Metric, datetime, ThreadEvent | None]] = _rounds(timeline)
    spans.append((Metric.RESOLUTION, timeline.created_at, resolved))
    out = []
    for metric, start, stop in spans:
        clock_start = start if metric is Metric.NEXT_RESPONSE else sla_start
        due = due_at(clock_start, timeline.urgency, calendar, policy, metric)
        end = stop.at if stop else None
        met = _judge(end, due, judge_at)
        wall, business = _elapsed(start, end, calendar) if end else (None, None)
        agent = stop.agent if stop else None
        out.append(_measurement(timeline, metric, start, end, wall, business, agent, due, met))
    lag = _elapsed(timeline.created_at, timeline.fetched_at, calendar)
    out.append(_measurement(timeline, Metric.INGESTION_LAG, timeline.created_at, timeline.fetched_at, *lag))
    return out


def _judge(end: datetime | None, due: datetime | None, judge_at: datetime) -> bool | None:
    if due is None:
        return None
    if end is not None:
        return end <= due
    return False if judge_at > due else None


def _measurement(
    timeline: MentionTimeline,
    metric: Metric,
    start: datetime,
    end: datetime | None,
    wall: float | None,
    business: float | None,
    agent: str | None = None,
    due: datetime | None = None,
    met: bool | None = None,
) -> Measurement:
    return Measurement(
        timeline.mention_id, metric, start, end, wall, business, timeline.urgency,
        timeline.brand, timeline.platform, agent, due, met,
    )  # fmt: skip


@dataclass(frozen=True)
class SlaStatus:
    """What the inbox shows for one mention.

    Attributes:
        state: Overall state over all targeted measurements.
        next_due_at: Earliest due time among targets still running and not yet missed.
        seconds_left: Time left until ``next_due_at`` on the policy's clock (business or wall).
        at_risk: Less than ``policy.at_risk_share`` of that target is left.
    """

    state: SlaState
    next_due_at: datetime | None
    seconds_left: float | None
    at_risk: bool


def evaluate(
    timeline: MentionTimeline,
    calendar: BusinessCalendar = ALWAYS_OPEN,
    policy: SlaPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> SlaStatus:
    """The SLA state of a mention at ``now``, with its nearest due time for sorting the inbox."""
    now = now or datetime.now(UTC)
    measurements = [m for m in measure(timeline, calendar, policy, now) if m.due_at is not None]
    missed = any(m.met is False for m in measurements)
    if _resolution(timeline) is not None:
        return SlaStatus(SlaState.MISSED if missed else SlaState.HIT, None, None, False)
    state = SlaState.ACTIVE_WITH_MISSES if missed else SlaState.ACTIVE
    running = [m for m in measurements if m.end is None and m.met is None]
    if not running:
        return SlaStatus(state, None, None, False)
    nearest = min(running, key=lambda m: m.due_at or now)
    assert nearest.due_at is not None  # filtered above
    targets = policy.targets[timeline.urgency]
    clock = calendar if targets.business_hours else ALWAYS_OPEN
    left = clock.business_seconds(now, nearest.due_at)
    target = targets.for_metric(nearest.metric)
    at_risk = target is not None and left < policy.at_risk_share * target.total_seconds()
    return SlaStatus(state, nearest.due_at, left, at_risk)


def measure_all(
    timelines: Iterable[MentionTimeline],
    calendars: Mapping[str, BusinessCalendar] | None = None,
    policy: SlaPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> list[Measurement]:
    """Measure many mentions, each with its brand's calendar (24/7 for brands without one)."""
    calendars = calendars or {}
    return [m for t in timelines for m in measure(t, calendars.get(t.brand, ALWAYS_OPEN), policy, now)]
