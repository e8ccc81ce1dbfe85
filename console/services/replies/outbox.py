"""The outbox: a reply is a row, queued by an agent and sent by the worker, never posted twice.

Two guards live in the database, not in this process, so they hold across browser tabs, console
replicas and workers: the unique ``idempotency_key`` (a double-clicked Send re-uses its key and
gets the first row back) and the partial unique index ``uq_replies_one_inflight`` (at most one
``queued``/``sending`` reply per mention, so a second, different Send is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import Author as AuthorRecord
from connectors.base import Mention as MentionRecord
from connectors.base import Metrics
from console.services.errors import ServiceError
from console.services.permissions import Actor, Permission, require
from console.services.sla_clocks import stop_clocks
from storage.enums import INFLIGHT_REPLY_STATES, ReplyState
from storage.models import AuditEntry, Author, Mention, Reply, User

MAX_REPLY_CHARS = 10_000
"""A sanity bound; each platform's own limit is enforced by its connector."""


class OutboxError(ServiceError, ValueError):
    """A reply cannot be queued; the message is shown to the agent as is."""


class ReplyInFlightError(OutboxError):
    """Another reply to the same mention is already queued or being sent."""


class NotReplyableError(OutboxError):
    """The platform gives no way to answer this mention."""


class IdempotencyConflictError(OutboxError):
    """The key was already used for a different reply."""


class UnresolvedReplyError(OutboxError):
    """An earlier reply may have been posted: a manager settles it, or the sender checks the thread and confirms."""


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


def _unresolved(session: Session, mention_id: int) -> list[Reply]:
    return list(
        session.scalars(
            select(Reply)
            .where(Reply.mention_id == mention_id, Reply.state == ReplyState.NEEDS_ATTENTION)
            .order_by(Reply.id)
        )
    )


def _settle_parked(session: Session, reply_id: int, now: datetime, values: dict[str, Any]) -> Reply | None:
    """Move a parked reply on, in one conditional UPDATE; ``None`` when it is no longer parked.

    The worker looks for parked replies on the platform and may mark one sent at any moment: a read
    followed by a plain update would overwrite that (on SQLite a read does not hold a lock), so a reply
    the platform has would be called "not posted" and answered twice.
    """
    done = session.execute(
        update(Reply)
        .where(Reply.id == reply_id, Reply.state == ReplyState.NEEDS_ATTENTION)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    reply = session.get(Reply, reply_id, populate_existing=True)  # also refreshes a caller's copy
    return reply if done.rowcount == 1 else None  # type: ignore[attr-defined]


def _not_posted_by_sender(session: Session, parked: list[Reply], user_id: int | None) -> None:
    """The sender checked the thread and the parked replies are not there: settle them as not posted.

    Raises:
        UnresolvedReplyError: The worker found one of them on the platform meanwhile.
    """
    who, now = _actor(session, user_id), datetime.now(UTC)
    values = {"state": ReplyState.FAILED, "last_error": f"not posted (checked by {who})"}
    for earlier in parked:
        reply = _settle_parked(session, earlier.id, now, values)
        if reply is not None:
            audit_reply(session, reply, "reply.settled", user_id=user_id, actor=who, posted=False, via="new reply")
        elif earlier.state is ReplyState.SENT:  # re-read by _settle_parked: the worker found it
            raise UnresolvedReplyError(
                "the earlier reply to this mention was just found on the platform; reload the thread before "
                "sending another"
            )


def _in_flight_error(session: Session, mention_id: int) -> ReplyInFlightError:
    other = session.scalar(
        select(Reply).where(Reply.mention_id == mention_id, Reply.state.in_(INFLIGHT_REPLY_STATES)).limit(1)
    )
    when = f", queued {other.created_at:%Y-%m-%d %H:%M} UTC" if other is not None else ""
    state = other.state.value if other is not None else "queued"
    return ReplyInFlightError(f"another reply to this mention is already {state}{when}; wait for it or cancel it")


def queue_reply(
    session: Session,
    mention_id: int,
    text: str,
    user_id: int | None,
    idempotency_key: str,
    *,
    confirm_unresolved: bool = False,
) -> Reply:
    """Queue ``text`` as the reply to a mention; the caller commits.

    The same ``idempotency_key`` returns the row it first created (a double-clicked Send is one
    reply).  A different reply while one is in flight is refused by the database's partial unique
    index, whichever process inserted first.

    A reply parked as needs-attention (it may have been posted) refuses a new one, unless the sender
    checked the thread and says so with ``confirm_unresolved``: the parked reply is then settled as
    "not posted (checked by <user>)", audited, in the same transaction as the new reply.

    Raises:
        ReplyInFlightError: Another reply to this mention is queued or sending.
        UnresolvedReplyError: An earlier reply is parked as needs-attention and nobody confirmed it is not posted.
        NotReplyableError, OutboxError, IdempotencyConflictError: As their names say.
    """
    if not idempotency_key or len(idempotency_key) > 80:
        raise OutboxError("a send key of 1 to 80 characters is required")
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return _same_reply(existing, mention_id, text)
    _validate(session, mention_id, text)
    parked = _unresolved(session, mention_id)
    if parked and not confirm_unresolved:
        raise UnresolvedReplyError(
            "an earlier reply to this mention may already be posted and needs a human check: a manager can "
            "settle it, or check the thread and confirm that it is not there to send this one"
        )
    if parked:
        _not_posted_by_sender(session, parked, user_id)
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


def settle_reply(session: Session, actor: Actor, reply_id: int, *, posted: bool, url: str | None = None) -> Reply:
    """A manager's verdict on a reply parked as needs-attention: it was posted (at ``url``), or it was not.

    ``posted=True`` marks it sent and stops the SLA clock (the first response); ``posted=False`` marks it
    failed, which allows a new reply to be queued.  Audited as ``reply.settled``; the caller commits.

    Raises:
        PermissionDenied: The actor is not a manager or an admin.
        OutboxError: The reply does not exist or is not parked.
    """
    require(actor, Permission.REASSIGN)
    url = (url or "").strip() or None
    if url is not None and len(url) > 512:
        raise OutboxError("the URL is longer than 512 characters")
    now = datetime.now(UTC)
    values: dict[str, Any]
    if posted:
        values = {"state": ReplyState.SENT, "sent_at": now, "last_error": None}
        if url is not None:
            values["external_url"] = url
    else:
        values = {"state": ReplyState.FAILED, "last_error": f"not posted (checked by {actor.username})"}
    reply = _settle_parked(session, reply_id, now, values)
    if reply is None:
        current = session.get(Reply, reply_id)
        if current is None:
            raise OutboxError(f"reply {reply_id} does not exist")
        raise OutboxError(
            f"reply {reply_id} is {current.state.value}; only a reply that needs attention can be settled"
        )
    if posted:
        record_first_response(session, reply.mention_id, now)
    audit_reply(session, reply, "reply.settled", user_id=actor.id, actor=actor.username, posted=posted)
    return reply


def outbox_replies(session: Session, actor: Actor, state: ReplyState | None = None, *, limit: int = 200) -> list[Reply]:
    """Replies in ``state`` (every state when ``None``), oldest first, for ``mentiondesk outbox list``."""
    require(actor, Permission.READ)
    query = select(Reply).order_by(Reply.created_at, Reply.id).limit(limit)
    if state is not None:
        query = query.where(Reply.state == state)
    return list(session.scalars(query))


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
    "outbox_replies",
    "queue_reply",
    "record_first_response",
    "settle_reply",
]
