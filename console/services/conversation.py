"""What the conversation view needs beyond the mention itself: the whole thread and the author's history.

Both reads need :attr:`~console.services.permissions.Permission.READ`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from storage.enums import ReplyState
from storage.models import Author, Mention, Reply, User


@dataclass
class PastMention:
    """An earlier mention by the same author, with the replies it got."""

    mention: Mention
    replies: list[Reply] = field(default_factory=list)


def author_history(
    session: Session, actor: Actor, author_id: int | None, *, exclude_id: int, limit: int = 10
) -> list[PastMention]:
    """The author's latest earlier mentions (newest first) with their sentiment and past replies."""
    require(actor, Permission.READ)
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


@dataclass(frozen=True)
class ThreadPost:
    """One post of a conversation as the thread shows it.

    ``kind`` is ``customer`` (the author of the mention being worked), ``other`` (someone else in the thread),
    ``brand_post`` (the brand's own post, as fetched from the network) or ``brand_reply`` (sent, or waiting to
    be sent, from this console's outbox; ``state`` says which).
    """

    kind: str
    at: datetime
    text: str
    mention_id: int | None = None
    handle: str | None = None
    state: str | None = None
    agent: str | None = None
    reply_id: int | None = None
    last_error: str | None = None
    url: str | None = None


THREAD_LIMIT = 200


def thread_posts(session: Session, actor: Actor, mention: Mention, *, limit: int = THREAD_LIMIT) -> list[ThreadPost]:
    """Every post of the mention's conversation in time order, with the brand's replies wherever they were sent.

    An outbox reply that the network later delivered back as a brand post is shown once (as the reply, with
    its state); replies still queued sort at the time they were written.
    """
    require(actor, Permission.READ)
    key = mention.conversation_id or mention.external_id
    posts = list(
        session.execute(
            select(Mention, Author.handle)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(
                Mention.platform == mention.platform,
                or_(Mention.conversation_id == key, Mention.external_id == key, Mention.id == mention.id),
            )
            .order_by(Mention.created_at, Mention.id)
            .limit(limit)
        ).tuples()
    )
    ids = [m.id for m, _ in posts]
    replies = list(
        session.execute(
            select(Reply, User.username)
            .outerjoin(User, User.id == Reply.user_id)
            .where(Reply.mention_id.in_(ids))
            .order_by(Reply.created_at, Reply.id)
        ).tuples()
    )
    delivered = {r.external_id for r, _ in replies if r.external_id}
    out = [_post(m, handle, mention.author_id) for m, handle in posts if m.external_id not in delivered]
    out += [_reply(r, who) for r, who in replies]
    return sorted(out, key=lambda p: (p.at, p.kind == "brand_reply"))


def _post(m: Mention, handle: str | None, customer_id: int | None) -> ThreadPost:
    if m.is_brand_post:
        kind = "brand_post"
    else:
        kind = "customer" if m.author_id is not None and m.author_id == customer_id else "other"
    return ThreadPost(kind, m.created_at, m.text, mention_id=m.id, handle=handle, url=m.url)


def _reply(r: Reply, agent: str | None) -> ThreadPost:
    state = ReplyState(r.state).value
    return ThreadPost(
        "brand_reply",
        r.sent_at or r.created_at,
        r.text,
        mention_id=r.mention_id,
        state=state,
        agent=agent,
        reply_id=r.id,
        last_error=r.last_error,
        url=r.external_url,
    )
