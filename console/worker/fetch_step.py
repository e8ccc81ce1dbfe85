"""Run one leased source: fetch pages, ingest each with its cursor, record health in plain words."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.base import AuthError, BudgetExhaustedError, Connector, FatalError, RetriableError, SkippedItem
from connectors.limits import Limits, screen
from connectors.read_budget import budget_month
from console.config import AppConfig
from console.services.sources import roll_read_month
from console.services.store import Store
from console.worker.leases import LEASE_S, LeaseLostError, SourceLease, release, renew
from storage.enums import SourceHealth
from storage.ingest import IngestResult, ingest_batch, ingest_isolated
from storage.models import Source

log = logging.getLogger(__name__)

MAX_PAGES_PER_RUN = 10
FATAL_RECHECK = timedelta(minutes=15)
MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one run of a source did."""

    source: str
    ok: bool
    result: IngestResult
    pages: int
    error: str | None = None


def jittered(seconds: float, rng: random.Random, spread: float = 0.1) -> timedelta:
    """``seconds`` ± ``spread``, so sources with equal intervals don't fire in lockstep."""
    return timedelta(seconds=seconds * rng.uniform(1 - spread, 1 + spread))


def _backoff(failures: int, rng: random.Random) -> timedelta:
    base = min(MAX_BACKOFF.total_seconds(), 15 * 2 ** min(failures, 10))
    return timedelta(seconds=rng.uniform(base / 2, base))


def _first_of_next_month(now: datetime) -> datetime:
    return (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)


def limits_for(factory: object) -> Limits:
    """The ``[ingest]`` limits of the config a connector factory was built with; the defaults without one."""
    config = getattr(getattr(factory, "context", None), "config", None)
    return Limits(max_text_length=config.ingest.max_text_length) if isinstance(config, AppConfig) else Limits()


def _fetch_pages(
    store: Store, lease: SourceLease, connector: Connector, owner: str, now: Callable[[], datetime], limits: Limits
) -> tuple[IngestResult, int]:
    """Fetch and store page by page; each page, its cursor and its reads commit together or not at all.

    Every mention is validated first and the page goes in row-isolated: a record that cannot be stored is
    skipped with its reason, like a malformed item, and the rest of the page and the cursor are stored.
    """
    with store.transaction() as session:
        roll_read_month(session, lease.id, budget_month(now()))
    cursor, total, pages = lease.cursor, IngestResult(), 0
    while pages < MAX_PAGES_PER_RUN:
        batch = connector.fetch(cursor)
        mentions, rejected = screen(batch.mentions, limits)
        with store.transaction() as session:
            renew(session, lease.id, owner, now() + timedelta(seconds=LEASE_S))
            stored, refused = ingest_isolated(
                session,
                mentions,
                source_id=lease.id,
                brand_id=lease.brand_id,
                next_cursor=batch.next_cursor,
                reads=batch.reads,
                store_batch=ingest_batch,  # looked up here, so a test may wrap it
            )
            total += stored
        pages += 1
        rejected += [SkippedItem(mentions[r.index].external_id, r.reason) for r in refused]
        for item in [*batch.skipped, *rejected]:
            log.warning("source %s skipped item %s: %s", lease.name, item.external_id or "?", item.reason)
        cursor = batch.next_cursor
        if not batch.has_more:
            break
    return total, pages


def run_source(
    store: Store,
    lease: SourceLease,
    connector: Connector,
    *,
    owner: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    rng: random.Random | None = None,
    limits: Limits | None = None,
) -> RunOutcome:
    """Fetch and ingest; never raise, so one failing source cannot stop the others."""
    rng = rng or random.Random()
    try:
        result, pages = _fetch_pages(store, lease, connector, owner, now, limits or Limits())
    except LeaseLostError as exc:  # another worker runs it now; nothing of this page was stored
        log.warning("source %s: %s", lease.name, exc)
        return RunOutcome(lease.name, False, IngestResult(), 0, str(exc))
    except Exception as exc:  # every failure becomes visible health, never a dead worker
        return record_failure(store, lease, owner, exc, now(), rng)
    at = now()
    with store.transaction() as session:
        release(
            session,
            lease.id,
            owner,
            health=SourceHealth.HEALTHY,
            last_success_at=at,
            consecutive_failures=0,
            next_run_at=at + jittered(lease.interval_s, rng),
        )
    return RunOutcome(lease.name, True, result, pages)


def describe_error(exc: BaseException) -> str:
    """The reason a person sees on the Sources page."""
    if isinstance(exc, AuthError):
        return f"credentials refused: {exc}"
    if isinstance(exc, BudgetExhaustedError):
        return f"read budget used up: {exc}"
    if isinstance(exc, FatalError):
        return f"stopped: {exc}"
    if isinstance(exc, RetriableError):
        return f"temporary problem, will retry: {exc}"
    return f"unexpected error ({type(exc).__name__}): {exc}"


def record_failure(
    store: Store, lease: SourceLease, owner: str, exc: Exception, at: datetime, rng: random.Random
) -> RunOutcome:
    """Turn a failed run into health a person can read, and schedule the next try."""
    failures = lease.consecutive_failures + 1
    if isinstance(exc, BudgetExhaustedError):
        health, next_run = SourceHealth.BUDGET_EXHAUSTED, _first_of_next_month(at)
    elif isinstance(exc, FatalError):
        health, next_run = SourceHealth.UNHEALTHY, at + FATAL_RECHECK
    elif isinstance(exc, RetriableError):
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else _backoff(failures, rng)
        health, next_run = (SourceHealth.DEGRADED if failures < 3 else SourceHealth.UNHEALTHY), at + wait
    else:
        log.exception("source %s failed unexpectedly", lease.name)
        health, next_run = SourceHealth.UNHEALTHY, at + _backoff(failures, rng)
    reason = describe_error(exc)
    log.warning("source %s: %s", lease.name, reason)
    with store.transaction() as session:
        release(
            session,
            lease.id,
            owner,
            health=health,
            last_error=reason,
            last_error_at=at,
            consecutive_failures=Source.consecutive_failures + 1,
            next_run_at=next_run,
        )
    return RunOutcome(lease.name, False, IngestResult(), 0, reason)
