"""Source health for the Sources page and ``mentiondesk sources``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Source


@dataclass(frozen=True)
class SourceHealthRow:
    """One source's state, in the words the page shows."""

    name: str
    platform: str
    kind: str
    enabled: bool
    health: str
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    reads_used: int
    mentions_ingested: int


def source_health(session: Session) -> list[SourceHealthRow]:
    """Every source, worst health first."""
    order = {"unhealthy": 0, "budget_exhausted": 1, "degraded": 2, "unknown": 3, "healthy": 4}
    rows = [
        SourceHealthRow(
            s.name,
            s.platform,
            s.kind,
            s.enabled,
            str(s.health.value),
            s.last_success_at,
            s.last_error,
            s.consecutive_failures,
            s.next_run_at,
            s.reads_used,
            s.mentions_ingested,
        )  # fmt: skip
        for s in session.scalars(select(Source).order_by(Source.name))
    ]
    return sorted(rows, key=lambda r: order.get(r.health, 9))
