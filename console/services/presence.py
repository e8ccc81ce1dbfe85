"""Who has a mention open right now: the conversation page refreshes its row while it is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from storage.models import Presence, User

FRESH = timedelta(seconds=45)
"""A viewer counts as present this long after the page last checked in (it does every 15 s)."""


def check_in(session: Session, actor: Actor, mention_id: int, *, now: datetime | None = None) -> None:
    """Record that the actor is looking at the mention now (anyone who may read it shows as viewing)."""
    require(actor, Permission.READ)
    now = now or datetime.now(UTC)
    row = session.get(Presence, (mention_id, actor.id))
    if row is None:
        session.add(Presence(mention_id=mention_id, user_id=actor.id, seen_at=now))
    else:
        row.seen_at = now


def also_viewing(session: Session, actor: Actor, mention_id: int, *, now: datetime | None = None) -> list[str]:
    """Usernames of the others who have the mention open, most recent first."""
    require(actor, Permission.READ)
    since = (now or datetime.now(UTC)) - FRESH
    query = (
        select(User.username)
        .join(Presence, Presence.user_id == User.id)
        .where(Presence.mention_id == mention_id, Presence.user_id != actor.id, Presence.seen_at >= since)
        .order_by(Presence.seen_at.desc())
    )
    return list(session.scalars(query))


def forget_stale(session: Session, *, older_than: timedelta = timedelta(days=1), now: datetime | None = None) -> int:
    """Drop check-ins older than a day (the worker's housekeeping); returns how many went."""
    cutoff = (now or datetime.now(UTC)) - older_than
    result = session.execute(delete(Presence).where(Presence.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
