"""The worker loop: lease due sources, run them, then do the other periodic steps."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from connectors.base import Connector
from console.services.store import Store
from console.worker.fetch_step import RunOutcome, record_failure, run_source
from console.worker.leases import SourceLease, acquire_due

log = logging.getLogger(__name__)

ConnectorFactory = Callable[[SourceLease], Connector]
Step = Callable[[Store], object]


def worker_id() -> str:
    """Unique per process, readable in the Sources page (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_once(store: Store, factory: ConnectorFactory, *, owner: str, now: datetime | None = None) -> list[RunOutcome]:
    """One pass: every due source this worker could lease is run once."""
    with store.transaction() as session:
        leases = acquire_due(session, owner, now or datetime.now(UTC))
    outcomes = []
    for lease in leases:
        try:
            connector = factory(lease)
        except Exception as exc:  # a bad source config must not stop the others
            outcomes.append(record_failure(store, lease, owner, exc, datetime.now(UTC), random.Random()))
            continue
        outcomes.append(run_source(store, lease, connector, owner=owner))
    return outcomes


def run_forever(
    store: Store,
    factory: ConnectorFactory,
    *,
    steps: Sequence[Step] = (),
    poll_s: float = 1.0,
    stop: threading.Event | None = None,
    owner: str | None = None,
) -> None:
    """Loop until ``stop`` is set; each step's failure is logged and the loop goes on."""
    stop = stop or threading.Event()
    owner = owner or worker_id()
    log.info("worker %s started on %s", owner, store.describe())
    while not stop.is_set():
        for outcome in run_once(store, factory, owner=owner):
            if outcome.ok and outcome.result.new:
                log.info("%s: %d new mentions", outcome.source, outcome.result.new)
        for step in steps:
            try:
                step(store)
            except Exception:
                log.exception("worker step %s failed", getattr(step, "__name__", step))
        stop.wait(poll_s)
