"""SLA clocks on stored mentions: started when a mention is classified, stopped by the brand's reply.

This is the one production path that writes a mention's ``sla_*`` columns (see :mod:`console.domain.sla`
for the rules).  The worker's classify step starts (or, for a new model version, recomputes) the clocks
of every batch it scores; an agent's urgency correction recomputes one; a sent reply, a reply settled by
a manager or a brand post ingested from the network stops them; reopening starts a next-response round.
Every write sets ``updated_at`` so the dashboard rollups pick the change up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from console.config import AppConfig, load_config
from console.domain.business_hours import ALWAYS_OPEN
from console.domain.sla import ALWAYS_OPEN_CLOCK, BrandClock, ClockReading, Round, RoundKind, read_clock
from console.services.settings import effective_sla_policy
from storage.enums import OPEN_STATUSES, ReplyState
from storage.models import Brand, Mention, Reply

OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class SlaClocks:
    """Each brand's calendar and policy, by brand id; brands without a config entry use the team's."""

    by_brand: dict[int, BrandClock] = field(default_factory=dict)
    default: BrandClock = ALWAYS_OPEN_CLOCK

    @classmethod
    def load(cls, session: Session, cfg: AppConfig) -> SlaClocks:
        """Build from the config file, with SLA targets edited in Settings taking precedence."""
        team = effective_sla_policy(session, cfg)
        ids = dict(session.execute(select(Brand.name, Brand.id)).tuples().all())
        by_brand = {}
        for brand in cfg.brands:
            if brand.name in ids:
                calendar = brand.calendar.to_calendar() if brand.calendar else ALWAYS_OPEN
                by_brand[ids[brand.name]] = BrandClock(calendar, brand.sla or team)
        return cls(by_brand, BrandClock(ALWAYS_OPEN, team))

    def brand(self, brand_id: int | None) -> BrandClock:
        """The clock rules of a brand."""
        return self.by_brand.get(brand_id, self.default) if brand_id is not None else self.default

    def read(self, mention: Any, now: datetime | None = None) -> ClockReading:
        """What ``mention``'s clock reads (anything with the mention's ``sla_*``, status and brand fields)."""
        status = getattr(mention.status, "value", mention.status)
        return read_clock(
            due_at=mention.sla_due_at,
            at_risk_at=mention.sla_at_risk_at,
            started_at=mention.sla_started_at,
            responded_at=mention.sla_responded_at,
            is_open=status in OPEN_VALUES,
            now=now or datetime.now(UTC),
            clock=self.brand(mention.brand_id).clock(mention.urgency),
        )


def clocks_or_config(session: Session, clocks: SlaClocks | None) -> SlaClocks:
    """``clocks`` when the caller has them (pages, the worker), else built from the process's config file."""
    return clocks if clocks is not None else SlaClocks.load(session, load_config())


_CLOCK_COLUMNS = (
    Mention.id,
    Mention.brand_id,
    Mention.platform,
    Mention.conversation_id,
    Mention.external_id,
    Mention.created_at,
    Mention.fetched_at,
    Mention.urgency,
    Mention.replyable,
    Mention.is_brand_post,
    Mention.first_response_at,
    Mention.sla_kind,
    Mention.sla_started_at,
    Mention.sla_responded_at,
)


def _first_start(row: Any, clock: BrandClock) -> datetime:
    start: datetime = row.fetched_at if clock.policy.clock_starts == "fetched" else row.created_at
    return start


def _answered_threads(session: Session, rows: Sequence[Any]) -> dict[tuple[str, str], datetime]:
    """The brand's earliest answer in each conversation of ``rows``: a sent reply or a brand post."""
    keys = {(r.platform, r.conversation_id) for r in rows if r.conversation_id and r.conversation_id != r.external_id}
    if not keys:
        return {}
    conversations = sorted({c for _, c in keys})
    posts = select(Mention.platform, Mention.conversation_id, Mention.created_at).where(
        Mention.conversation_id.in_(conversations), Mention.is_brand_post.is_(True)
    )
    sent = (
        select(Mention.platform, Mention.conversation_id, Reply.sent_at)
        .join(Reply, Reply.mention_id == Mention.id)
        .where(Mention.conversation_id.in_(conversations), Reply.state == ReplyState.SENT, Reply.sent_at.is_not(None))
    )
    earliest: dict[tuple[str, str], datetime] = {}
    for platform, conversation, at in [*session.execute(posts), *session.execute(sent)]:
        key = (platform, conversation)
        if key in keys and (key not in earliest or at < earliest[key]):
            earliest[key] = at
    return earliest


def _round_values(rnd: Round, *, first_round: bool, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sla_kind": rnd.kind.value,
        "sla_started_at": rnd.started_at,
        "sla_at_risk_at": rnd.at_risk_at,
        "sla_due_at": rnd.due_at,
        "updated_at": now,
    }
    if first_round:
        values["first_response_due_at"] = rnd.due_at
    return values


def start_clocks(
    session: Session, clocks: SlaClocks, mention_ids: Iterable[int], *, now: datetime | None = None
) -> list[int]:
    """Start the first round of each inbound replyable mention, or recompute its round for a new urgency.

    A mention in a thread the brand already answered measures the next response.  A reply recorded before
    the clock started (the brand answered in the network's own app) stops the new round at once.
    Returns the ids whose clock was written.
    """
    now = now or datetime.now(UTC)
    ids = sorted(set(mention_ids))
    if not ids:
        return []
    rows = [r for r in session.execute(select(*_CLOCK_COLUMNS).where(Mention.id.in_(ids))) if _clocked(r)]
    answered = _answered_threads(session, [r for r in rows if r.sla_kind is None])
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        clock = clocks.brand(row.brand_id)
        values = _new_round(row, clock, answered, now) if row.sla_kind is None else _recomputed(row, clock, now)
        if values is not None:
            by_shape.setdefault(tuple(sorted(values)), []).append({"id": row.id, **values})
    for batch in by_shape.values():  # one executemany per set of columns (bulk UPDATE by primary key)
        session.execute(update(Mention), batch)
    return sorted(v["id"] for batch in by_shape.values() for v in batch)


def _clocked(row: Any) -> bool:
    """Only inbound posts the team can answer get a clock, once their urgency is known."""
    return bool(row.replyable) and not row.is_brand_post and row.urgency is not None


def _new_round(
    row: Any, clock: BrandClock, answered: dict[tuple[str, str], datetime], now: datetime
) -> dict[str, Any] | None:
    start = _first_start(row, clock)
    earlier_answer = answered.get((row.platform, row.conversation_id))
    kind = (
        RoundKind.NEXT_RESPONSE
        if earlier_answer is not None and earlier_answer <= row.created_at
        else (RoundKind.FIRST_RESPONSE)
    )
    rnd = clock.plan(start, row.urgency, kind)
    if rnd is None:
        return None
    values = _round_values(rnd, first_round=True, now=now)
    values["sla_responded_at"] = row.sla_responded_at or row.first_response_at
    return values


def _recomputed(row: Any, clock: BrandClock, now: datetime) -> dict[str, Any] | None:
    """Same round, new urgency: the due time still counts from the round's start."""
    rnd = clock.plan(row.sla_started_at, row.urgency, RoundKind(row.sla_kind))
    if rnd is None:
        return None
    first_round = row.sla_started_at in (row.created_at, row.fetched_at)
    return _round_values(rnd, first_round=first_round, now=now)


def stop_clocks(session: Session, mention_id: int, at: datetime, *, now: datetime | None = None) -> int:
    """A brand reply at ``at`` answers this mention and the same customer's earlier posts in its thread.

    Records the first response where there was none and stops every round still waiting that started
    before the reply.  Returns how many mentions it stopped.
    """
    now = now or datetime.now(UTC)
    m = session.execute(
        select(Mention.platform, Mention.conversation_id, Mention.author_id).where(Mention.id == mention_id)
    ).first()
    if m is None:
        return 0
    same_thread = (
        and_(
            Mention.platform == m.platform,
            Mention.conversation_id == m.conversation_id,
            Mention.author_id == m.author_id,
            Mention.is_brand_post.is_(False),
            Mention.created_at <= at,
        )
        if m.conversation_id and m.author_id is not None
        else None
    )
    target = or_(Mention.id == mention_id, same_thread) if same_thread is not None else Mention.id == mention_id
    waiting = or_(Mention.sla_started_at.is_(None), Mention.sla_started_at <= at)
    stopped = session.execute(
        update(Mention)
        .where(target, Mention.sla_responded_at.is_(None), waiting)
        .values(sla_responded_at=at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Mention)
        .where(target, Mention.first_response_at.is_(None))
        .values(first_response_at=at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(stopped, "rowcount", 0) or 0)


def reopen_clock(session: Session, clocks: SlaClocks, mention: Mention, at: datetime) -> Round | None:
    """Reopening a mention starts a next-response round at ``at`` (the customer is waiting again)."""
    if not _clocked(mention):
        return None
    rnd = clocks.brand(mention.brand_id).plan(at, mention.urgency, RoundKind.NEXT_RESPONSE)
    if rnd is None:
        return None
    first_round = mention.first_response_due_at is None
    for name, value in _round_values(rnd, first_round=first_round, now=at).items():
        setattr(mention, name, value)
    mention.sla_responded_at = None
    return rnd


__all__ = ["SlaClocks", "clocks_or_config", "reopen_clock", "start_clocks", "stop_clocks"]
