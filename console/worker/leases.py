"""Source leases, so several workers never fetch the same source at once.

PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` to pick due sources; SQLite has one writer at a
time, so a conditional UPDATE is enough there.  A lease expires on its own, so a killed
worker's sources are picked up again after ``lease_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connectors.base import FatalError
from storage.models import Source

LEASE_S = 300
"""How long a lease lasts without renewal; each stored page renews it."""


class LeaseLostError(RuntimeError):
    """Another worker took this source over (our lease expired); stop without storing anything."""


@dataclass(frozen=True, slots=True)
class SourceLease:
    """What a worker needs to run one source, copied out of the session."""

    id: int
    name: str
    platform: str
    kind: str
    brand_id: int | None
    config: dict[str, Any]
    cursor: str | None
    interval_s: int
    reads_used: int
    reads_month: str | None
    consecutive_failures: int


def _due(now: datetime) -> Any:
    return (
        Source.enabled.is_(True),
        or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
        or_(Source.lease_until.is_(None), Source.lease_until < now),
    )


def acquire_due(
    session: Session, owner: str, now: datetime, *, lease_s: int = LEASE_S, limit: int = 10
) -> list[SourceLease]:
    """Lease up to ``limit`` due sources for ``owner``; the caller commits."""
    query = select(Source).where(*_due(now)).order_by(Source.next_run_at.nulls_first(), Source.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    leased = []
    for source in session.scalars(query):
        taken = session.execute(
            update(Source)
            .where(Source.id == source.id, *_due(now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            leased.append(_copy(source))
    return leased


def _copy(s: Source) -> SourceLease:
    return SourceLease(
        s.id,
        s.name,
        s.platform,
        s.kind,
        s.brand_id,
        dict(s.config or {}),
        s.cursor,
        s.interval_s,
        s.reads_used,
        s.reads_month,
        s.consecutive_failures,
    )


def release(session: Session, source_id: int, owner: str, **values: Any) -> None:
    """Give a lease back, recording the run's outcome in ``values``."""
    session.execute(
        update(Source)
        .where(Source.id == source_id, Source.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )


def renew(session: Session, source_id: int, owner: str, until: datetime) -> None:
    """Extend ``owner``'s lease inside the page's transaction.

    Raises:
        LeaseLostError: The lease is no longer ours, so the caller's transaction must roll back
            rather than move a cursor another worker now owns.
    """
    renewed = session.execute(
        update(Source)
        .where(Source.id == source_id, Source.lease_owner == owner)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLostError(f"lease on source {source_id} was lost to another worker")


def lease_of(session: Session, source_id: int) -> SourceLease:
    """A source's settings as a lease copy, without taking a lease (the outbox builds connectors with it)."""
    source = session.get(Source, source_id)
    if source is None:
        raise FatalError(f"source {source_id} no longer exists")
    return _copy(source)
