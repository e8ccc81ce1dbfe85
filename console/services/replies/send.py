"""Sending a reply: role, claim and brand voice are checked here, then the outbox takes it.

The outbox's partial unique index keeps one reply in flight per mention, so two simultaneous
Sends (two tabs, two agents, two console replicas) produce exactly one reply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.config import VoiceRules
from console.domain.voice import Finding, check_reply
from console.services import audit
from console.services.permissions import Actor, Permission, require
from console.services.replies.composer import agent_sign_off, platform_limit
from console.services.replies.outbox import OutboxError, queue_reply
from storage.enums import ReplyState
from storage.models import Mention, Reply, User


class ClaimedByOtherError(OutboxError):
    """Someone else is handling the mention; take it over explicitly before sending."""


class VoiceCheckFailed(OutboxError):  # noqa: N818 - reads as what happened
    """Blocking voice findings stop the Send."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(f"{f.problem} (fix: {f.fix})" for f in findings if f.blocking))


class NeedsConfirmation(OutboxError):  # noqa: N818
    """Only warnings: the agent must confirm before the reply is queued."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("confirm to send despite: " + "; ".join(f.problem for f in findings))


@dataclass(frozen=True)
class Draft:
    """What the agent wants to send, and the key that makes a double-click one reply."""

    text: str
    idempotency_key: str
    template_id: int | None = None
    confirmed_warnings: bool = False
    confirmed_unresolved: bool = False
    """The agent checked the thread: an earlier reply parked as needs-attention is not there (it is settled so)."""


def new_send_key() -> str:
    """A fresh idempotency key for one composed reply."""
    return f"ui-{uuid.uuid4().hex}"


def _check_claim(session: Session, actor: Actor, mention: Mention) -> None:
    if mention.assignee_id == actor.id:
        return
    if mention.assignee_id is None:
        raise ClaimedByOtherError("open the mention to claim it before replying")
    who = session.scalar(select(User.username).where(User.id == mention.assignee_id))
    since = f" since {mention.assigned_at:%H:%M} UTC" if mention.assigned_at else ""
    raise ClaimedByOtherError(f"{who} is handling this mention{since}; take it over to reply")


def send_reply(session: Session, actor: Actor, mention_id: int, draft: Draft, rules: VoiceRules | None) -> Reply:
    """Check role, claim and voice, then queue the reply in the outbox; the caller commits.

    Raises:
        PermissionDenied: The actor's role cannot reply (analysts).
        ClaimedByOtherError: The actor has not claimed the mention.
        VoiceCheckFailed: A blocking voice rule failed.
        NeedsConfirmation: Only warnings, and the agent has not confirmed them.
        UnresolvedReplyError: An earlier reply may have been posted and ``draft.confirmed_unresolved`` is not set.
        OutboxError: Not replyable, or another reply is already in flight.
    """
    require(actor, Permission.REPLY)
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise OutboxError(f"mention {mention_id} does not exist")
    _check_claim(session, actor, mention)
    findings = check_reply(
        draft.text,
        rules,
        sentiment=mention.sentiment,
        platform_limit=platform_limit(mention.platform),
        sign_off=agent_sign_off(actor, rules),
    )
    if any(f.blocking for f in findings):
        raise VoiceCheckFailed(findings)
    if findings and not draft.confirmed_warnings:
        raise NeedsConfirmation(findings)
    reply = queue_reply(
        session, mention_id, draft.text, actor.id, draft.idempotency_key, confirm_unresolved=draft.confirmed_unresolved
    )
    if draft.template_id is not None and reply.template_id is None:
        reply.template_id = draft.template_id
    if findings:
        audit.record(
            session, actor, "reply.voice_override", "reply", reply.id, after={"warnings": [f.rule for f in findings]}
        )
    return reply


def retry_reply(session: Session, actor: Actor, reply_id: int) -> Reply:
    """Queue a failed reply again, as a new outbox row (the failed one stays as history)."""
    require(actor, Permission.REPLY)
    failed = session.get(Reply, reply_id)
    if failed is None or failed.state is not ReplyState.FAILED:
        raise OutboxError("only a failed reply can be retried")
    mention = session.get(Mention, failed.mention_id)
    if mention is None:
        raise OutboxError("the mention is gone")
    _check_claim(session, actor, mention)
    reply = queue_reply(session, failed.mention_id, failed.text, actor.id, f"retry-{failed.id}-{uuid.uuid4().hex[:12]}")
    reply.template_id = failed.template_id
    audit.record(session, actor, "reply.retry", "reply", reply.id, before={"failed_reply": failed.id})
    return reply
