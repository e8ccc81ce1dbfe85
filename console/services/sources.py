"""Source health for the Sources page and ``mentiondesk sources``, and the monthly read counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.read_budget import ReadBudget, budget_month
from console.config import AppConfig
from storage.models import Source

HEALTH_ORDER = {"unhealthy": 0, "budget_exhausted": 1, "degraded": 2, "unknown": 3, "healthy": 4}


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
    """Billed reads in the current month (0 when the stored count belongs to an earlier month)."""
    mentions_ingested: int
    lease_owner: str | None = None


def source_health(session: Session, *, month: str | None = None) -> list[SourceHealthRow]:
    """Every source, worst health first; ``month`` (``YYYY-MM``) defaults to the current one."""
    month = month or budget_month(datetime.now(UTC))
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
            s.reads_used if s.reads_month in (month, None) else 0,
            s.mentions_ingested,
            s.lease_owner,
        )
        for s in session.scalars(select(Source).order_by(Source.name))
    ]
    return sorted(rows, key=lambda r: HEALTH_ORDER.get(r.health, 9))


def reads_this_month(session: Session, platform: str, month: str) -> int:
    """Billed reads of every ``platform`` source in ``month``: X caps the whole app, not one source."""
    total = session.scalar(
        select(func.coalesce(func.sum(Source.reads_used), 0)).where(
            Source.platform == platform, Source.reads_month == month
        )
    )
    return int(total or 0)


def roll_read_month(session: Session, source_id: int, month: str) -> None:
    """Start a new month's read count for a source whose counter belongs to an earlier month.

    A counter with no month yet keeps its reads and is stamped with ``month``.
    """
    session.execute(
        update(Source)
        .where(Source.id == source_id, Source.reads_month.is_not(None), Source.reads_month != month)
        .values(reads_used=0, reads_month=month)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Source)
        .where(Source.id == source_id, Source.reads_month.is_(None))
        .values(reads_month=month)
        .execution_options(synchronize_session=False)
    )


def x_summary(rows: list[SourceHealthRow], budget: ReadBudget) -> str | None:
    """The X bill so far this month across every X source, with the cap warning when close."""
    used = sum(r.reads_used for r in rows if r.platform == "x")
    if not any(r.platform == "x" for r in rows):
        return None
    return budget.warning(used) or f"X reads this month: {used:,} (about {budget.format_cost(used)})"


def read_budget(cfg: AppConfig) -> ReadBudget:
    """The X read cap and price from ``[x]`` in the config, for the bill the page and the CLI show."""
    return ReadBudget(cfg.x.monthly_read_cap, Decimal(str(cfg.x.price_per_read)))
