"""The outbox: a reply is a row, queued by an agent and sent by the worker, never posted twice.

Two guards live in the database, not in this process, so they hold across browser tabs, console
replicas and workers: the unique ``idempotency_key`` (a double-clicked Send re-uses its key and
gets the first row back) and the partial unique index ``uq_replies_one_inflight`` (at most one
``queued``/``sending`` reply per mention, so a second, different Send is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import Author as AuthorRecord
from connectors.base import Mention as MentionRecord
from connectors.base import Metrics
from console.services.sla_clocks import stop_clocks
from storage.enums import INFLIGHT_REPLY_STATES, ReplyState
from storage.models import AuditEntry, Author, Mention, Reply, User

MAX_REPLY_CHARS = 10_000
"""A sanity bound; each platform's own limit is enforced by its connector."""


class OutboxError(ValueError):
    """A reply cannot be queued; the message is shown to the agent as is."""


class ReplyInFlightError(OutboxError):
    """Another reply to the same mention is already queued or being sent."""


class NotReplyableError(OutboxError):
    """The platform gives no way to answer this mention."""


class IdempotencyConflictError(OutboxError):
    """The key was already used for a different reply."""


class UnresolvedReplyError(OutboxError):
    """An earlier reply may have been posted; a human must settle it before another is sent."""


def _validate(session: Session, mention_id: int, text: str) -> Mention:
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise OutboxError(f"mention {mention_id} does not exist")
    if not mention.replyable:
        raise NotReplyableError(f"this mention cannot be answered: {mention.replyable_reason or 'not replyable'}")
    if not text.strip():
        raise OutboxError("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise OutboxError(f"the reply is {len(text):,} characters; the limit is {MAX_REPLY_CHARS:,}")
    return mention


def _by_key(session: Session, idempotency_key: str) -> Reply | None:
    return session.scalar(select(Reply).where(Reply.idempotency_key == idempotency_key))


def _same_reply(existing: Reply, mention_id: int, text: str) -> Reply:
    if existing.mention_id != mention_id or existing.text != text:
        raise IdempotencyConflictError("this send key was already used for a different reply; reload and try again")
    return existing


def _unresolved(session: Session, mention_id: int) -> Reply | None:
    return session.scalar(
        select(Reply).where(Reply.mention_id == mention_id, Reply.state == ReplyState.NEEDS_ATTENTION).limit(1)
    )


def _in_flight_error(session: Session, mention_id: int) -> ReplyInFlightError:
    other = session.scalar(
        select(Reply).where(Reply.mention_id == mention_id, Reply.state.in_(INFLIGHT_REPLY_STATES)).limit(1)
    )
    when = f", queued {other.created_at:%Y-%m-%d %H:%M} UTC" if other is not None else ""
    state = other.state.value if other is not None else "queued"
    return ReplyInFlightError(f"another reply to this mention is already {state}{when}; wait for it or cancel it")


def queue_reply(session: Session, mention_id: int, text: str, user_id: int | None, idempotency_key: str) -> Reply:
    """Queue ``text`` as the reply to a mention; the caller commits.

    The same ``idempotency_key`` returns the row it first created (a double-clicked Send is one
    reply).  A different reply while one is in flight is refused by the database's partial unique
    index, whichever process inserted first.

    Raises:
        ReplyInFlightError: Another reply to this mention is queued or sending.
        UnresolvedReplyError: An earlier reply is parked as needs-attention.
        NotReplyableError, OutboxError, IdempotencyConflictError: As their names say.
    """
    if not idempotency_key or len(idempotency_key) > 80:
        raise OutboxError("a send key of 1 to 80 characters is required")
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return _same_reply(existing, mention_id, text)
    _validate(session, mention_id, text)
    if _unresolved(session, mention_id) is not None:
        raise UnresolvedReplyError(
            "an earlier reply to this mention may already be posted and needs a human check; settle it first"
        )
    reply = Reply(mention_id=mention_id, text=text, user_id=user_id, idempotency_key=idempotency_key)
    try:
        with session.begin_nested():  # a refused insert leaves the caller's transaction usable
            session.add(reply)
    except IntegrityError:
        raced = _by_key(session, idempotency_key)
        if raced is not None:  # the other click committed first
            return _same_reply(raced, mention_id, text)
        raise _in_flight_error(session, mention_id) from None
    audit_reply(session, reply, "reply.queued", user_id=user_id, actor=_actor(session, user_id))
    return reply


def settle_reply(
    session: Session, reply_id: int, *, posted: bool, user_id: int | None, url: str | None = None
) -> Reply:
    """A human's verdict on a reply parked as needs-attention: it was posted, or it was not.

    ``posted=False`` marks it failed, which allows a new reply to be queued.
    """
    reply = session.get(Reply, reply_id)
    if reply is None or reply.state is not ReplyState.NEEDS_ATTENTION:
        raise OutboxError("only a reply that needs attention can be settled by hand")
    now = datetime.now(UTC)
    if posted:
        reply.state, reply.sent_at, reply.external_url = ReplyState.SENT, now, url or reply.external_url
        record_first_response(session, reply.mention_id, now)
    else:
        reply.state = ReplyState.FAILED
        reply.last_error = "confirmed by a person as not posted"
    reply.updated_at = now
    audit_reply(session, reply, "reply.settled", user_id=user_id, actor=_actor(session, user_id))
    return reply


def record_first_response(session: Session, mention_id: int, at: datetime) -> None:
    """A reply reached the network at ``at``: it stops the mention's SLA clock and its thread's.

    It is the mention's first response unless one came earlier (see :func:`console.services.sla_clocks.stop_clocks`).
    """
    stop_clocks(session, mention_id, at)


def _actor(session: Session, user_id: int | None) -> str:
    """The audit log names people by username, as every other service does."""
    if user_id is None:
        return "system"
    return session.scalar(select(User.username).where(User.id == user_id)) or f"user:{user_id}"


def audit_reply(session: Session, reply: Reply, action: str, *, user_id: int | None, actor: str, **extra: Any) -> None:
    """Append the reply's new state to the audit log (append-only in the database)."""
    session.flush()
    after = {
        "mention_id": reply.mention_id,
        "state": ReplyState(reply.state).value,
        "attempts": reply.attempts,
        "external_id": reply.external_id,
        "external_url": reply.external_url,
        "last_error": reply.last_error,
        **extra,
    }
    session.add(
        AuditEntry(
            user_id=user_id, actor=actor, action=action, entity_type="reply", entity_id=str(reply.id), after=after
        )
    )


def mention_record(mention: Mention, author: Author | None) -> MentionRecord:
    """Rebuild the connector's record of a stored mention (its raw payload carries platform details)."""
    who = None
    if author is not None:
        who = AuthorRecord(
            author.platform, author.external_id, author.handle, author.display_name, author.followers, author.verified
        )
    return MentionRecord(
        platform=mention.platform,
        external_id=mention.external_id,
        text=mention.text,
        created_at=mention.created_at,
        author=who,
        url=mention.url,
        language=mention.language,
        conversation_id=mention.conversation_id,
        in_reply_to_id=mention.in_reply_to_external_id,
        metrics=Metrics(mention.like_count, mention.repost_count, mention.reply_count, mention.quote_count),
        replyable=mention.replyable,
        replyable_reason=mention.replyable_reason,
        is_brand_post=mention.is_brand_post,
        raw=dict(mention.raw or {}),
        fetched_at=mention.fetched_at,
    )


__all__ = [
    "IdempotencyConflictError",
    "NotReplyableError",
    "OutboxError",
    "ReplyInFlightError",
    "UnresolvedReplyError",
    "audit_reply",
    "mention_record",
    "queue_reply",
    "record_first_response",
    "settle_reply",
]
