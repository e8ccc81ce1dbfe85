"""Escalation: a mention handed to a named queue (supervisor, PR crisis, legal, security) with a reason.

A person escalates by hand; the worker escalates when a clock is at risk and nobody answered, and when a
post falls in one of the rubric's critical categories.  Each automatic trigger fires once per mention (a
unique constraint on ``(mention_id, trigger)``), and a mention has at most one open escalation (a partial
unique index), so two workers or two clicks cannot escalate it twice.  Every step is in the audit log;
an automatic one also raises an alert for the console and the webhook/SMTP channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from classifiers.rubric import matching_cues
from console.config import EscalationConfig, EscalationQueue
from console.services import audit
from console.services.errors import ServiceError
from console.services.permissions import Actor, Permission, require
from storage.enums import OPEN_STATUSES
from storage.models import Alert, Brand, Escalation, Mention, User

MAX_REASON_CHARS = 500
SLA_AT_RISK = "sla_at_risk"
AT_RISK_BATCH = 200
ESCALATION_METRIC = "escalation"
"""``alerts.metric`` of an automatic escalation's alert (spike episodes use the spike metrics)."""


class EscalationError(ServiceError, ValueError):
    """An escalation action that cannot be done as asked; the message is for the person."""


@dataclass(frozen=True)
class EscalationView:
    """An open or ended escalation as the console shows it."""

    id: int
    mention_id: int
    queue: str
    queue_label: str
    reason: str
    trigger: str | None
    by: str
    at: datetime
    due_at: datetime | None
    ended_at: datetime | None
    end_action: str | None
    ended_by: str | None
    end_note: str | None


def _queue(cfg: EscalationConfig, name: str) -> EscalationQueue:
    queue = cfg.queue(name)
    if queue is None:
        known = ", ".join(q.name for q in cfg.queues)
        raise EscalationError(f"unknown escalation queue {name!r} (queues: {known})")
    return queue


def open_escalation(session: Session, mention_id: int) -> Escalation | None:
    """The mention's open escalation, if any (a part of the services here, which check the actor; no page calls it)."""
    return session.scalar(select(Escalation).where(Escalation.mention_id == mention_id, Escalation.ended_at.is_(None)))


def _end(session: Session, row: Escalation, actor: Actor | None, action: str, note: str | None, now: datetime) -> None:
    row.ended_at, row.ended_by_id, row.end_action, row.end_note = now, actor.id if actor else None, action, note
    session.execute(
        update(Mention)
        .where(Mention.id == row.mention_id)
        .values(escalation_queue=None, escalated_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _insert(session: Session, row: Escalation) -> bool:
    """Insert unless a concurrent escalation (or this trigger's earlier one) already holds the unique keys."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def escalate(
    session: Session,
    actor: Actor | None,
    mention_id: int,
    queue_name: str,
    reason: str,
    *,
    config: EscalationConfig,
    trigger: str | None = None,
    now: datetime | None = None,
) -> Escalation | None:
    """Escalate a mention to a queue; a person's escalation moves an open one, a trigger's never does.

    Returns the new escalation, or ``None`` when a trigger had already fired or another escalation is open.

    Raises:
        PermissionDenied: The actor's role cannot triage.
        EscalationError: Unknown queue, empty reason, or already in that queue.
    """
    if actor is not None or trigger is None:
        require(actor, Permission.TRIAGE)
    now = now or datetime.now(UTC)
    queue, text = _queue(config, queue_name), " ".join(reason.split())
    if not text or len(text) > MAX_REASON_CHARS:
        raise EscalationError(f"say why in 1 to {MAX_REASON_CHARS} characters")
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise EscalationError(f"mention {mention_id} does not exist")
    current = open_escalation(session, mention_id)
    if current is not None:
        if trigger is not None:
            return None
        if current.queue == queue.name:
            raise EscalationError(f"already escalated to {queue.label}")
        _end(session, current, actor, "moved", f"moved to {queue.label}", now)
        session.flush()
    row = Escalation(
        mention_id=mention_id,
        queue=queue.name,
        reason=text,
        trigger=trigger,
        escalated_by_id=actor.id if actor else None,
        created_at=now,
        due_at=now + queue.first_response,
    )
    if not _insert(session, row):
        return None
    mention.escalation_queue, mention.escalated_at, mention.updated_at = queue.name, now, now
    audit.record(
        session,
        actor,
        "mention.escalate",
        "mention",
        mention_id,
        before={"queue": current.queue} if current else None,
        after={"queue": queue.name, "reason": text, "trigger": trigger},
        actor_label=None if actor else "worker",
    )
    if trigger is not None:
        _raise_alert(session, mention, queue, text, now)
    return row


def _raise_alert(session: Session, mention: Mention, queue: EscalationQueue, reason: str, now: datetime) -> None:
    """One alert per automatic escalation: the console lists it, the worker sends it to the channels."""
    brand = session.scalar(select(Brand.name).where(Brand.id == mention.brand_id)) if mention.brand_id else None
    details = {
        "mention_id": mention.id,
        "queue": queue.name,
        "queue_label": queue.label,
        "reason": reason,
        "brand": brand or "no brand",
        "excerpt": " ".join(mention.text.split())[:280],
    }
    session.add(
        Alert(
            brand_id=mention.brand_id,
            metric=ESCALATION_METRIC,
            started_at=now,
            ended_at=now,
            peak_z=0.0,
            details=details,
        )
    )


def end_escalation(
    session: Session, actor: Actor, mention_id: int, *, hand_back: bool, note: str = "", now: datetime | None = None
) -> Escalation:
    """De-escalate (it did not need the queue) or hand back to the agent (the queue has done its part)."""
    require(actor, Permission.TRIAGE)
    now = now or datetime.now(UTC)
    row = open_escalation(session, mention_id)
    if row is None:
        raise EscalationError("this mention is not escalated")
    action = "handed_back" if hand_back else "de-escalated"
    clean = " ".join(note.split())[:MAX_REASON_CHARS] or None
    _end(session, row, actor, action, clean, now)
    audit.record(
        session,
        actor,
        f"mention.{'hand_back' if hand_back else 'de_escalate'}",
        "mention",
        mention_id,
        before={"queue": row.queue},
        after={"queue": None, "note": clean},
    )
    return row


def close_on_resolve(session: Session, actor: Actor | None, mention_id: int, now: datetime) -> None:
    """Resolving (or ignoring) a mention ends its escalation: nothing is left for the queue to do."""
    row = open_escalation(session, mention_id)
    if row is not None:
        _end(session, row, actor, "resolved", None, now)


def history(session: Session, actor: Actor, mention_id: int, config: EscalationConfig) -> list[EscalationView]:
    """Every escalation of a mention, oldest first, with names instead of ids."""
    require(actor, Permission.READ)
    rows = list(session.scalars(select(Escalation).where(Escalation.mention_id == mention_id).order_by(Escalation.id)))
    people = _names(session, {i for r in rows for i in (r.escalated_by_id, r.ended_by_id) if i})
    return [_view(r, people, config) for r in rows]


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(sorted(ids)))).tuples().all())


def _view(row: Escalation, people: dict[int, str], config: EscalationConfig) -> EscalationView:
    queue = config.queue(row.queue)
    by = people.get(row.escalated_by_id or 0) or ("the worker" if row.trigger else "someone")
    ended_by = people.get(row.ended_by_id or 0) if row.ended_by_id else None
    return EscalationView(
        row.id,
        row.mention_id,
        row.queue,
        queue.label if queue else row.queue,
        row.reason,
        row.trigger,
        by,
        row.created_at,
        row.due_at,
        row.ended_at,
        row.end_action,
        ended_by,
        row.end_note,
    )


def queues_of(actor: Actor, config: EscalationConfig) -> list[str]:
    """The queues a person works: managers and admins every queue, others those they are members of."""
    require(actor, Permission.READ)
    if actor.can(Permission.REASSIGN):
        return [q.name for q in config.queues]
    return [q.name for q in config.queues if actor.username in q.members]


# --- automatic triggers (the worker) -------------------------------------------------------------------------


def rubric_escalations(
    session: Session, mention_ids: Sequence[int], config: EscalationConfig, *, now: datetime | None = None
) -> list[Escalation]:
    """Posts in a critical rubric category go to that category's queue at once (once per mention)."""
    if not config.rubric or not mention_ids:
        return []
    rows = session.execute(
        select(Mention.id, Mention.text).where(
            Mention.id.in_(list(mention_ids)),
            Mention.is_brand_post.is_(False),
            Mention.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )
    made = []
    for mention_id, text in rows:
        hit = next(((cue, phrase) for cue, phrase in matching_cues(text or "") if cue.name in config.rubric), None)
        if hit is None:
            continue
        cue, phrase = hit
        reason = f'{cue.reason} ("{phrase}")'
        row = escalate(
            session,
            None,
            mention_id,
            config.rubric[cue.name],
            reason,
            config=config,
            trigger=f"rubric:{cue.name}",
            now=now,
        )
        if row is not None:
            made.append(row)
    return made


def at_risk_escalations(
    session: Session, config: EscalationConfig, *, now: datetime | None = None, limit: int = AT_RISK_BATCH
) -> list[Escalation]:
    """Unanswered open mentions whose clock went at risk (within the lookback) go to the at-risk queue, once each."""
    if not config.at_risk_queue:
        return []
    now = now or datetime.now(UTC)
    fired = select(Escalation.id).where(Escalation.mention_id == Mention.id, Escalation.trigger == SLA_AT_RISK)
    query = (
        select(Mention.id, Mention.sla_due_at)
        .where(
            Mention.sla_responded_at.is_(None),
            Mention.sla_at_risk_at <= now,
            Mention.sla_at_risk_at >= now - config.at_risk_lookback,
            Mention.status.in_([s.value for s in OPEN_STATUSES]),
            Mention.escalation_queue.is_(None),
            ~fired.exists(),
        )
        .order_by(Mention.sla_at_risk_at)
        .limit(limit)
    )
    made = []
    for mention_id, due in session.execute(query).all():
        late = due is not None and due <= now
        reason = "SLA breached and nobody has answered" if late else "SLA at risk and nobody has answered yet"
        row = escalate(
            session, None, mention_id, config.at_risk_queue, reason, config=config, trigger=SLA_AT_RISK, now=now
        )
        if row is not None:
            made.append(row)
    return made


def recent_escalation_alerts(
    session: Session, actor: Actor, since: datetime, queues: Sequence[str]
) -> list[dict[str, Any]]:
    """Automatic escalations to ``queues`` since ``since``, newest first, for the console's notices."""
    require(actor, Permission.READ)
    rows = session.scalars(
        select(Alert)
        .where(and_(Alert.metric == ESCALATION_METRIC, Alert.started_at >= since))
        .order_by(Alert.started_at.desc())
        .limit(50)
    )
    return [{**a.details, "at": a.started_at} for a in rows if a.details.get("queue") in set(queues)]
