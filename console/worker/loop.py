"""The worker loop: lease due sources, run them, then do the other periodic steps, and outlive database outages.

A pass is the leasing, the sources and every step.  When the database cannot be reached (a restart, a
terminated backend, a SQLite file locked by another process) the pass stops there: the outage is logged
once, in plain words, the loop waits (1 s, doubling, at most 30 s, jittered) and tries again; when a pass
goes through the outage is written to the worker's row in ``workers`` and logged as over.  Any other
exception in a step is logged with its traceback and the loop goes on with the next step.  The sources this
worker leased in a pass that failed (the database cut it short, or a bug escaped) are handed back at the
start of the next pass, and when the worker stops, so they run again at once instead of waiting
:data:`~console.worker.leases.LEASE_S` for their leases to expire.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.base import Connector
from console.services.store import Store
from console.services.worker_health import (
    HEARTBEAT_S,
    beat,
    database_reason,
    is_database_error,
    mark_stopped,
    process_owner,
    record_outage,
    register,
)
from console.worker.fetch_step import RunOutcome, limits_for, record_failure, run_source
from console.worker.leases import SourceLease, acquire_due
from storage.models import Source

log = logging.getLogger(__name__)

ConnectorFactory = Callable[[SourceLease], Connector]
Step = Callable[[Store], object]


def worker_id() -> str:
    """Unique per process, readable in the Sources page (host:pid)."""
    return process_owner()


class _DatabaseDown(BaseException):  # noqa: N818 - it carries, it is not raised to anyone
    """Carries a database error past ``run_source``'s catch-all, which would record it as the source's failure."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _SourceStore(Store):
    """The store as a source run sees it: a database error stops the pass instead of failing the source.

    Otherwise a blip in the middle of a fetch marks a healthy source unhealthy, logs a traceback and backs
    the source off for minutes, growing with each blip.
    """

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """As :meth:`Store.transaction`; a database error comes out as :class:`_DatabaseDown`."""
        try:
            with super().transaction() as session:
                yield session
        except Exception as exc:
            if is_database_error(exc):
                raise _DatabaseDown(exc) from exc
            raise


def release_leases(session: Session, owner: str) -> int:
    """Hand back every source lease ``owner`` holds (a pass that failed left them); the caller commits.

    Only the lease is cleared: a source whose run had stored pages keeps its cursor, and one that never
    ran keeps its ``next_run_at``, so each is due again on the next pass.
    """
    done = session.execute(
        update(Source)
        .where(Source.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def run_once(store: Store, factory: ConnectorFactory, *, owner: str, now: datetime | None = None) -> list[RunOutcome]:
    """One pass: every due source this worker could lease is run once.

    Raises:
        sqlalchemy.exc.DBAPIError: The database failed (an outage): the pass stops, no source is blamed.
    """
    with store.transaction() as session:
        leases = acquire_due(session, owner, now or datetime.now(UTC))
    guarded = _SourceStore(store.url, store.engine, store.sessions)
    outcomes = []
    for lease in leases:
        try:
            connector = factory(lease)
        except Exception as exc:  # a bad source config must not stop the others
            outcomes.append(record_failure(store, lease, owner, exc, datetime.now(UTC), random.Random()))
            continue
        try:
            outcomes.append(run_source(guarded, lease, connector, owner=owner, limits=limits_for(factory)))
        except _DatabaseDown as down:
            raise down.error from None
    return outcomes


@dataclass
class OutageBackoff:
    """Seconds between tries while the database is unreachable: ``first_s`` doubling up to ``cap_s``, jittered.

    The outage is over once passes have gone through for ``steady_s``: a database that drops every other
    connection (a flapping network, backends being terminated) is one outage, not one a second.
    """

    first_s: float = 1.0
    cap_s: float = 30.0
    steady_s: float = 5.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failed pass in a row (jittered down, so never above the cap)."""
        ceiling = min(self.cap_s, self.first_s * 2 ** max(0, failures - 1))
        return ceiling * self.rng.uniform(0.75, 1.0)


@dataclass
class _Outage:
    started_at: datetime
    reason: str
    failures: int = 0
    back_at: datetime | None = None
    """When passes started to go through again (``None`` while they fail)."""


def _seconds(value: float) -> str:
    return f"{max(1, round(value))} s"


class _Heartbeat(threading.Thread):
    """Beats in its own thread, so a long pass (a slow send, a big rollup) does not look like a dead worker."""

    def __init__(self, store: Store, owner: str, every: float) -> None:
        super().__init__(name=f"heartbeat {owner}", daemon=True)
        self.store, self.owner, self.every = store, owner, every
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                with self.store.transaction() as session:
                    beat(session, self.owner, datetime.now(UTC))
            except Exception as exc:  # the loop reports outages; a missed beat only shows as "silent"
                log.debug("worker: heartbeat not written: %s", exc)


class _Loop:
    """One worker's passes, and the outage it may be in."""

    def __init__(
        self, store: Store, factory: ConnectorFactory, steps: Sequence[Step], owner: str, backoff: OutageBackoff
    ) -> None:
        self.store, self.factory, self.steps, self.owner, self.backoff = store, factory, steps, owner, backoff
        self.registered = False
        self.outage: _Outage | None = None
        self.leases_left = False

    def turn(self, poll_s: float) -> float:
        """Run one pass; the seconds to wait before the next."""
        try:
            self._pass()
            self._recovering()
        except Exception as exc:
            self.leases_left = True  # whatever cut the pass short, the sources it leased wait for the next one
            if is_database_error(exc):
                return self._failed(exc)
            log.exception("worker pass failed")
        return poll_s

    def _pass(self) -> None:
        if not self.registered:
            with self.store.transaction() as session:
                register(session, self.owner, datetime.now(UTC))
            self.registered = True
        if self.leases_left:
            self._release_leases()
        for outcome in run_once(self.store, self.factory, owner=self.owner):
            if outcome.ok and outcome.result.new:
                log.info("%s: %d new mentions", outcome.source, outcome.result.new)
        for step in self.steps:
            try:
                step(self.store)
            except Exception as exc:
                if is_database_error(exc):
                    raise  # the other steps need the database too: back off and try the whole pass again
                log.exception("worker step %s failed", getattr(step, "__name__", step))

    def _release_leases(self) -> None:
        with self.store.transaction() as session:
            released = release_leases(session, self.owner)
        self.leases_left = False
        if released:
            log.info("worker: handed back %d source lease(s) a failed pass left", released)

    def _failed(self, exc: BaseException) -> float:
        if self.outage is None:
            self.outage = _Outage(datetime.now(UTC), database_reason(exc))
        self.outage.back_at = None  # a failure while it looked back: the same outage goes on
        self.outage.failures += 1
        delay = self.backoff.delay(self.outage.failures)
        if self.outage.failures == 1:
            log.warning("worker: the database is unreachable (%s); retrying in %s", self.outage.reason, _seconds(delay))
        else:
            log.debug(
                "worker: the database is still unreachable (%s); retrying in %s", database_reason(exc), _seconds(delay)
            )
        if self.store.engine.dialect.name != "sqlite":
            self.store.engine.dispose()  # drop connections to terminated backends; the next checkout reconnects
        return delay

    def _recovering(self) -> None:
        if self.outage is None:
            return
        now = datetime.now(UTC)
        if self.outage.back_at is None:
            self.outage.back_at = now
        if (now - self.outage.back_at).total_seconds() >= self.backoff.steady_s:
            self._end_outage()

    def _end_outage(self) -> None:
        if self.outage is None or self.outage.back_at is None:
            return
        ended = self.outage.back_at
        with self.store.transaction() as session:
            record_outage(session, self.owner, self.outage.started_at, ended, self.outage.reason)
        lasted = (ended - self.outage.started_at).total_seconds()
        self.outage = None
        log.warning("worker: the database is back after %s; carrying on", _seconds(lasted))

    def stopped(self) -> None:
        """Hand back this worker's leases and mark it stopped; the database may be gone, which is said, not raised.

        A stop in the middle of a pass (Ctrl-C during a fetch) leaves leases too, so they are released always.
        """
        try:
            self._end_outage()  # stopped while the database looked back
            with self.store.transaction() as session:
                released = release_leases(session, self.owner)
                mark_stopped(session, self.owner, datetime.now(UTC))
            if released:
                log.info("worker: handed back %d source lease(s) on stopping", released)
        except Exception as exc:
            log.warning("worker: could not record the stop in the database (%s)", database_reason(exc))


def run_forever(
    store: Store,
    factory: ConnectorFactory,
    *,
    steps: Sequence[Step] = (),
    poll_s: float = 1.0,
    stop: threading.Event | None = None,
    owner: str | None = None,
    backoff: OutageBackoff | None = None,
    heartbeat_s: float = HEARTBEAT_S,
) -> None:
    """Loop until ``stop`` is set; a step's failure is logged, a database outage is waited out."""
    stop = stop or threading.Event()
    owner = owner or worker_id()
    log.info("worker %s started on %s", owner, store.describe())
    loop = _Loop(store, factory, steps, owner, backoff or OutageBackoff())
    heart = _Heartbeat(store, owner, heartbeat_s)
    heart.start()
    try:
        while not stop.is_set():
            stop.wait(loop.turn(poll_s))
    finally:
        heart.done.set()
        heart.join(5)
        loop.stopped()
