"""Worker health: a heartbeat row per worker process, its database outages, and the words the pages show.

Each worker upserts its row in ``workers`` when it starts, beats every :data:`HEARTBEAT_S` seconds and
marks it stopped when it ends.  A row whose heartbeat is older than :data:`SILENT_AFTER` belongs to a
worker that died or hangs; the outbox treats such a worker's ``sending`` replies as abandoned.  An
outage (the database unreachable for a while) is written once the database is back: there is no way to
write it while it lasts.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import WorkerStatus

HEARTBEAT_S = 10.0
SILENT_AFTER = timedelta(seconds=60)
"""A worker that has not beaten for this long is shown as silent, and its claims count as abandoned."""
SHOWN_FOR = timedelta(hours=24)
"""Workers whose last heartbeat is older than this are left off the overview (each restart adds a row)."""
_SQLITE_OUTAGE_WORDS = ("database is locked", "database is busy", "unable to open", "disk i/o error")

try:  # psycopg is the PostgreSQL driver; a SQLite-only install may lack it
    import psycopg

    _PSYCOPG_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # pragma: no cover - psycopg is a dependency
    _PSYCOPG_ERRORS = ()


def process_owner() -> str:
    """This process as workers and claims name it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


# --- telling a database outage from a bug ------------------------------------------------------


def _driver_outage(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(words in str(exc).lower() for words in _SQLITE_OUTAGE_WORDS)
    return isinstance(exc, _PSYCOPG_ERRORS)


def is_database_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or busy, not that a query is wrong.

    Connection-level failures count (a lost or refused connection, an exhausted pool, PostgreSQL's
    operational errors), and SQLite's "database is locked" and "unable to open".  SQLite reports a
    missing table as an ``OperationalError`` too: that is a bug, not an outage, so it does not count.
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # the pool's own failures
            return True
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated or (current.orig is not None and _driver_outage(current.orig)):
                return True
            if isinstance(current.orig, sqlite3.Error):
                return False
            return isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError)
        if _driver_outage(current):
            return True
        current, seen = current.__cause__, seen + 1
    return False


def database_reason(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's SQL echo: ``server closed the connection unexpectedly``."""
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    reason = lines[0] if lines else type(orig).__name__
    return reason if len(reason) <= 200 else reason[:199] + "…"


# --- the heartbeat row --------------------------------------------------------------------------


def _split(owner: str) -> tuple[str, int]:
    host, _, pid = owner.rpartition(":")
    return (host or owner)[:120], int(pid) if pid.isdigit() else 0


def register(session: Session, owner: str, now: datetime) -> None:
    """The worker started: create or reset its row; the caller commits."""
    row = session.get(WorkerStatus, owner)
    if row is None:
        host, pid = _split(owner)
        session.add(WorkerStatus(owner=owner, host=host, pid=pid, started_at=now, heartbeat_at=now, outages=0))
        return
    row.started_at, row.heartbeat_at, row.stopped_at = now, now, None


def beat(session: Session, owner: str, now: datetime) -> None:
    """The worker is alive at ``now``; the caller commits."""
    done = session.execute(
        update(WorkerStatus)
        .where(WorkerStatus.owner == owner)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        register(session, owner, now)


def mark_stopped(session: Session, owner: str, now: datetime) -> None:
    """The worker stopped on purpose (Ctrl-C, SIGTERM); the caller commits."""
    beat(session, owner, now)
    session.execute(
        update(WorkerStatus)
        .where(WorkerStatus.owner == owner)
        .values(stopped_at=now)
        .execution_options(synchronize_session=False)
    )


def record_outage(session: Session, owner: str, started_at: datetime, ended_at: datetime, reason: str) -> None:
    """An outage the worker lived through, written once the database is back; the caller commits."""
    beat(session, owner, ended_at)
    session.execute(
        update(WorkerStatus)
        .where(WorkerStatus.owner == owner)
        .values(
            outages=WorkerStatus.outages + 1,
            last_outage_started_at=started_at,
            last_outage_ended_at=ended_at,
            last_error=reason,
            last_error_at=started_at,
        )
        .execution_options(synchronize_session=False)
    )


def is_abandoned(row: WorkerStatus | None, now: datetime) -> bool:
    """True when the worker behind ``row`` stopped, or has been silent for longer than :data:`SILENT_AFTER`."""
    return row is not None and (row.stopped_at is not None or row.heartbeat_at < now - SILENT_AFTER)


# --- what the Sources page and ``mentiondesk sources`` show -------------------------------------


@dataclass(frozen=True)
class WorkerView:
    """One worker in plain words."""

    owner: str
    last_heartbeat: str
    """``4 s ago``."""
    state: str
    """``running``, ``stopped`` or ``silent for 3 min``."""
    last_outage: str
    """``12:03:04–12:03:16 UTC (12 s): <reason>``, or empty when it has had none."""
    outages: int


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} d"


def worker_state(row: WorkerStatus, now: datetime) -> str:
    """``running``, ``stopped`` or ``silent for N min`` (no heartbeat for longer than :data:`SILENT_AFTER`)."""
    if row.stopped_at is not None:
        return "stopped"
    if row.heartbeat_at < now - SILENT_AFTER:
        return f"silent for {_span(now - row.heartbeat_at)}"
    return "running"


def outage_words(row: WorkerStatus, zone: ZoneInfo) -> str:
    """The last outage: ``12:03:04–12:03:16 UTC (12 s): server closed the connection unexpectedly``."""
    start, end = row.last_outage_started_at, row.last_outage_ended_at
    if start is None or end is None:
        return ""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = "" if local_start.date() == local_end.date() else f"{local_start:%d %b} "
    span = f"{day}{local_start:%H:%M:%S}–{local_end:%H:%M:%S} {local_end:%Z} ({_span(end - start)})"
    return f"{span}: {row.last_error}" if row.last_error else span


def workers_overview(session: Session, now: datetime, zone: ZoneInfo) -> list[WorkerView]:
    """Workers seen in the last day, most recent heartbeat first."""
    rows = session.scalars(
        select(WorkerStatus)
        .where(WorkerStatus.heartbeat_at >= now - SHOWN_FOR)
        .order_by(WorkerStatus.heartbeat_at.desc(), WorkerStatus.owner)
        .limit(20)
    )
    return [
        WorkerView(
            owner=row.owner,
            last_heartbeat=f"{_span(now - row.heartbeat_at)} ago",
            state=worker_state(row, now),
            last_outage=outage_words(row, zone),
            outages=row.outages,
        )
        for row in rows
    ]
