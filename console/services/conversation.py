"""What the conversation view needs beyond the mention itself: the author's history."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Mention, Reply


@dataclass
class PastMention:
    """An earlier mention by the same author, with the replies it got."""

    mention: Mention
    replies: list[Reply] = field(default_factory=list)


def author_history(session: Session, author_id: int | None, *, exclude_id: int, limit: int = 10) -> list[PastMention]:
    """The author's latest earlier mentions (newest first) with their sentiment and past replies."""
    if author_id is None:
        return []
    mentions = list(
        session.scalars(
            select(Mention)
            .where(Mention.author_id == author_id, Mention.id != exclude_id)
            .order_by(Mention.created_at.desc())
            .limit(limit)
        )
    )
    by_id = {m.id: PastMention(m) for m in mentions}
    if by_id:
        replies = session.scalars(select(Reply).where(Reply.mention_id.in_(list(by_id))).order_by(Reply.created_at))
        for reply in replies:
            by_id[reply.mention_id].replies.append(reply)
    return list(by_id.values())
