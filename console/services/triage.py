"""Triage: claiming, takeovers, status changes, bulk actions, notes and label corrections.

Every function checks the actor's role first and each change appends an audit entry in the caller's
transaction.  Claiming and taking over need ``REPLY``; status, tags, notes and labels ``TRIAGE``; giving a
mention to someone else or releasing another's claim ``REASSIGN``.  Claims are single
``UPDATE ... WHERE assignee_id IS NULL`` statements, so two agents opening the same mention at once cannot
both get it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from console.services import audit
from console.services.errors import ServiceError
from console.services.escalations import close_on_resolve
from console.services.permissions import Actor, Permission, require
from console.services.sla_clocks import SlaClocks, clocks_or_config, reopen_clock, start_clocks
from storage.enums import FeedbackField, MentionStatus, Sentiment, Urgency
from storage.models import Classification, LabelFeedback, Mention, MentionTag, Note, User

MAX_NOTE_CHARS = 5_000
MAX_BULK = 500
CLOSED = (MentionStatus.RESOLVED, MentionStatus.IGNORED, MentionStatus.SPAM)
LABEL_VALUES = {
    FeedbackField.SENTIMENT: {s.value for s in Sentiment},
    FeedbackField.URGENCY: {u.value for u in Urgency},
}


class TriageError(ServiceError, ValueError):
    """An action that cannot be done as asked; the message is for the agent."""


@dataclass(frozen=True)
class Claim:
    """Who handles a mention after opening it, and since when."""

    mention_id: int
    assignee_id: int | None
    assignee: str | None
    since: datetime | None
    mine: bool


@dataclass
class BulkResult:
    """How many mentions a bulk action changed, and why the others were left alone."""

    changed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def _mention(session: Session, mention_id: int) -> Mention:
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise TriageError(f"mention {mention_id} does not exist")
    return mention


def _username(session: Session, user_id: int | None) -> str | None:
    return session.scalar(select(User.username).where(User.id == user_id)) if user_id else None


def claim_state(session: Session, actor: Actor, mention_id: int) -> Claim:
    """Who is handling a mention, as this actor sees it."""
    require(actor, Permission.READ)
    m = _mention(session, mention_id)
    return Claim(m.id, m.assignee_id, _username(session, m.assignee_id), m.assigned_at, m.assignee_id == actor.id)


def open_for_reply(session: Session, actor: Actor, mention_id: int, *, now: datetime | None = None) -> Claim:
    """Claim an unassigned mention for the actor; someone else's claim is reported, not taken."""
    require(actor, Permission.REPLY)
    now = now or datetime.now(UTC)
    result = session.execute(
        update(Mention)
        .where(Mention.id == mention_id, Mention.assignee_id.is_(None))
        .values(assignee_id=actor.id, assigned_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = bool(getattr(result, "rowcount", 0))
    session.expire_all()
    if claimed:
        m = _mention(session, mention_id)
        if m.status is MentionStatus.NEW:
            m.status = MentionStatus.OPEN
        audit.record(
            session,
            actor,
            "mention.claim",
            "mention",
            mention_id,
            before={"assignee": None},
            after={"assignee": actor.username, "at": now.isoformat()},
        )
    return claim_state(session, actor, mention_id)


def take_over(session: Session, actor: Actor, mention_id: int, *, now: datetime | None = None) -> Claim:
    """Explicitly take a mention someone else claimed, for oneself; logged with who had it.

    Needs :attr:`~Permission.REPLY`, as claiming does: any agent may take over a colleague's stale claim (off
    shift, away), the way the Conversation page offers it, and the first agent is told at once with their draft
    kept.  Handing a mention to someone *else* (:func:`bulk_assign`) or releasing another's claim
    (:func:`release`) needs :attr:`~Permission.REASSIGN`.
    """
    require(actor, Permission.REPLY)
    now = now or datetime.now(UTC)
    m = _mention(session, mention_id)
    before = {
        "assignee": _username(session, m.assignee_id),
        "since": m.assigned_at.isoformat() if m.assigned_at else None,
    }
    m.assignee_id, m.assigned_at = actor.id, now
    if m.status is MentionStatus.NEW:
        m.status = MentionStatus.OPEN
    audit.record(
        session,
        actor,
        "mention.takeover",
        "mention",
        mention_id,
        before=before,
        after={"assignee": actor.username, "at": now.isoformat()},
    )
    return Claim(m.id, actor.id, actor.username, now, True)


def release(session: Session, actor: Actor, mention_id: int) -> None:
    """Give a claimed mention back to the queue (one's own, or anyone's for a manager)."""
    require(actor, Permission.TRIAGE)
    m = _mention(session, mention_id)
    if m.assignee_id is None:
        return
    if m.assignee_id != actor.id:
        require(actor, Permission.REASSIGN)
    before = {"assignee": _username(session, m.assignee_id)}
    m.assignee_id, m.assigned_at = None, None
    audit.record(session, actor, "mention.release", "mention", mention_id, before=before, after={"assignee": None})


def _apply_status(
    session: Session, actor: Actor, m: Mention, status: MentionStatus, now: datetime, clocks: SlaClocks | None
) -> bool:
    """Closing ends the mention's escalation; reopening a closed one starts a next-response round."""
    if m.status is status:
        return False
    before: dict[str, object] = {"status": m.status.value}
    after: dict[str, object] = {"status": status.value}
    reopened = m.status in CLOSED and status not in CLOSED
    m.status = status
    m.resolved_at = now if status in CLOSED else None
    m.updated_at = now
    if status in CLOSED:
        close_on_resolve(session, actor, m.id, now)
    elif reopened and (rnd := reopen_clock(session, clocks_or_config(session, clocks), m, now)) is not None:
        after["sla_due_at"] = rnd.due_at.isoformat()
    audit.record(session, actor, "mention.status", "mention", m.id, before=before, after=after)
    return True


def set_status(
    session: Session,
    actor: Actor,
    mention_id: int,
    status: MentionStatus | str,
    *,
    now: datetime | None = None,
    clocks: SlaClocks | None = None,
) -> bool:
    """Move a mention to ``status`` (resolve, ignore, spam, reopen...); True if it changed."""
    require(actor, Permission.TRIAGE)
    m, target = _mention(session, mention_id), MentionStatus(status)
    return _apply_status(session, actor, m, target, now or datetime.now(UTC), clocks)


def _bulk_ids(ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    if len(unique) > MAX_BULK:
        raise TriageError(f"{len(unique)} mentions selected; bulk actions take at most {MAX_BULK} at a time")
    return unique


def bulk_set_status(
    session: Session,
    actor: Actor,
    ids: Sequence[int],
    status: MentionStatus | str,
    *,
    now: datetime | None = None,
    clocks: SlaClocks | None = None,
) -> BulkResult:
    """Set the status of many mentions (e.g. mark a wave of spam); each change is audited."""
    require(actor, Permission.TRIAGE)
    now, target, result = now or datetime.now(UTC), MentionStatus(status), BulkResult()
    for m in list(session.scalars(select(Mention).where(Mention.id.in_(_bulk_ids(ids))))):
        if _apply_status(session, actor, m, target, now, clocks):
            result.changed.append(m.id)
        else:
            result.skipped[m.id] = f"already {target.value}"
    return result


def bulk_assign(
    session: Session, actor: Actor, ids: Sequence[int], assignee_id: int | None, *, now: datetime | None = None
) -> BulkResult:
    """Assign many mentions; agents may only take unassigned ones for themselves, managers reassign."""
    require(actor, Permission.TRIAGE)
    may_reassign = actor.can(Permission.REASSIGN)
    if assignee_id != actor.id:
        require(actor, Permission.REASSIGN)
    target = _username(session, assignee_id) if assignee_id else None
    if assignee_id and target is None:
        raise TriageError(f"user {assignee_id} does not exist")
    now, result = now or datetime.now(UTC), BulkResult()
    for m in session.scalars(select(Mention).where(Mention.id.in_(_bulk_ids(ids)))):
        if m.assignee_id == assignee_id:
            result.skipped[m.id] = "already assigned there"
        elif m.assignee_id is not None and not may_reassign:
            result.skipped[m.id] = f"claimed by {_username(session, m.assignee_id)}; take it over from its page"
        else:
            before = {"assignee": _username(session, m.assignee_id)}
            m.assignee_id, m.assigned_at = assignee_id, (now if assignee_id else None)
            audit.record(session, actor, "mention.assign", "mention", m.id, before=before, after={"assignee": target})
            result.changed.append(m.id)
    return result


def normalise_tag(tag: str) -> str:
    """Tags are short, lower-case, single-spaced."""
    clean = " ".join(tag.strip().lower().split())
    if not clean or len(clean) > 64:
        raise TriageError("a tag needs 1 to 64 characters")
    return clean


def bulk_tag(session: Session, actor: Actor, ids: Sequence[int], tag: str) -> BulkResult:
    """Put one tag on many mentions."""
    require(actor, Permission.TRIAGE)
    clean, wanted, result = normalise_tag(tag), _bulk_ids(ids), BulkResult()
    have = set(
        session.scalars(select(MentionTag.mention_id).where(MentionTag.tag == clean, MentionTag.mention_id.in_(wanted)))
    )
    exists = set(session.scalars(select(Mention.id).where(Mention.id.in_(wanted))))
    for mention_id in wanted:
        if mention_id not in exists:
            result.skipped[mention_id] = "no such mention"
        elif mention_id in have:
            result.skipped[mention_id] = "already tagged"
        else:
            session.add(MentionTag(mention_id=mention_id, tag=clean))
            audit.record(session, actor, "mention.tag", "mention", mention_id, after={"tag": clean})
            result.changed.append(mention_id)
    return result


def mention_tags(session: Session, actor: Actor, mention_id: int) -> list[str]:
    """A mention's tags, sorted."""
    require(actor, Permission.READ)
    return list(
        session.scalars(select(MentionTag.tag).where(MentionTag.mention_id == mention_id).order_by(MentionTag.tag))
    )


def add_note(session: Session, actor: Actor, mention_id: int, body: str) -> Note:
    """An internal note; never posted anywhere."""
    require(actor, Permission.TRIAGE)
    text = body.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise TriageError(f"a note needs 1 to {MAX_NOTE_CHARS:,} characters")
    _mention(session, mention_id)
    note = Note(mention_id=mention_id, user_id=actor.id, body=text)
    session.add(note)
    session.flush()
    audit.record(session, actor, "mention.note", "mention", mention_id, after={"note_id": note.id, "chars": len(text)})
    return note


def correct_label(
    session: Session,
    actor: Actor,
    mention_id: int,
    label: FeedbackField | str,
    value: str,
    *,
    clocks: SlaClocks | None = None,
) -> LabelFeedback | None:
    """Correct sentiment or urgency: the mention shows the new value and the fix is kept as training feedback.

    A new urgency recomputes the SLA clock's due time from the round's start.
    """
    require(actor, Permission.TRIAGE)
    which = FeedbackField(label)
    if value not in LABEL_VALUES[which]:
        raise TriageError(f"{which.value} must be one of {', '.join(sorted(LABEL_VALUES[which]))}")
    m = _mention(session, mention_id)
    old = m.sentiment if which is FeedbackField.SENTIMENT else m.urgency
    if old == value:
        return None
    current = session.scalar(
        select(Classification.id).where(Classification.mention_id == mention_id, Classification.is_current)
    )
    feedback = LabelFeedback(
        mention_id=mention_id, user_id=actor.id, classification_id=current, field=which, old_value=old, new_value=value
    )
    session.add(feedback)
    setattr(m, which.value, value)
    m.updated_at = datetime.now(UTC)
    if which is FeedbackField.URGENCY:
        start_clocks(session, clocks_or_config(session, clocks), [mention_id])
    audit.record(
        session, actor, "mention.label", "mention", mention_id, before={which.value: old}, after={which.value: value}
    )
    return feedback


def assignable_users(session: Session) -> dict[str, int]:
    """Active people who can be handed mentions (agents, managers, admins): username -> id."""
    rows = session.execute(
        select(User.username, User.id)
        .where(User.is_active, or_(User.role == "agent", User.role == "manager", User.role == "admin"))
        .order_by(User.username)
    )
    return dict(rows.tuples().all())
