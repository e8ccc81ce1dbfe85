"""Reply drafts kept in the store: a takeover, a reload or another tab never loses what an agent wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from console.services.replies.outbox import MAX_REPLY_CHARS
from storage.models import ReplyDraft


def save_draft(session: Session, actor: Actor, mention_id: int, text: str, *, now: datetime | None = None) -> None:
    """Keep the actor's draft for a mention (an empty text deletes it)."""
    require(actor, Permission.REPLY)
    if not text.strip():
        discard_draft(session, actor, mention_id)
        return
    row = session.get(ReplyDraft, (mention_id, actor.id))
    if row is None:
        session.add(
            ReplyDraft(
                mention_id=mention_id,
                user_id=actor.id,
                text=text[:MAX_REPLY_CHARS],
                updated_at=now or datetime.now(UTC),
            )
        )
    elif row.text != text:
        row.text, row.updated_at = text[:MAX_REPLY_CHARS], now or datetime.now(UTC)


def draft_of(session: Session, actor: Actor, mention_id: int) -> ReplyDraft | None:
    """The actor's kept draft for a mention, if any.

    Only ``READ``: the Conversation page asks for everyone, and someone whose role lost ``REPLY`` still sees
    (and may discard) what they wrote before.
    """
    require(actor, Permission.READ)
    return session.get(ReplyDraft, (mention_id, actor.id))


def discard_draft(session: Session, actor: Actor, mention_id: int) -> None:
    """Forget the actor's own draft (after sending it, or when they say so)."""
    require(actor, Permission.READ)
    session.execute(delete(ReplyDraft).where(ReplyDraft.mention_id == mention_id, ReplyDraft.user_id == actor.id))
