"""The worker's desk step: clocks nobody started yet, and escalation of clocks at risk.

The classify step starts each scored mention's clock in its own transaction; this step catches the rest
(mentions classified before the store had clocks, by an import, or while the config had no target for
their urgency) and escalates unanswered mentions whose clock passed its at-risk point.  Both are safe
with several workers: clocks are idempotent writes, and escalations are unique per mention and trigger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from console.config import AppConfig
from console.services.alerts import AlertChannels, deliver_pending
from console.services.escalations import at_risk_escalations
from console.services.presence import forget_stale
from console.services.sla_clocks import SlaClocks, start_clocks
from console.services.store import Store
from storage.enums import OPEN_STATUSES
from storage.models import Mention

log = logging.getLogger(__name__)
STRAGGLERS_PER_PASS = 500
EVERY_S = 10.0


def clockless(store: Store, limit: int = STRAGGLERS_PER_PASS) -> list[int]:
    """Open, classified, answerable mentions still waiting without a computed clock."""
    with store.read() as session:
        query = (
            select(Mention.id)
            .where(
                Mention.status.in_([s.value for s in OPEN_STATUSES]),
                Mention.is_brand_post.is_(False),
                Mention.replyable.is_(True),
                Mention.urgency.is_not(None),
                Mention.sla_responded_at.is_(None),
                Mention.sla_at_risk_at.is_(None),
            )
            .limit(limit)
        )
        return list(session.scalars(query))


def run_desk(
    store: Store, cfg: AppConfig, channels: AlertChannels | None = None, now: datetime | None = None
) -> tuple[int, int]:
    """One pass: start missing clocks, escalate what is at risk, send new escalation alerts.

    Returns (clocks written, escalations made).
    """
    now = now or datetime.now(UTC)
    waiting = clockless(store)
    with store.transaction() as session:
        started = start_clocks(session, SlaClocks.load(session, cfg), waiting, now=now) if waiting else []
        escalated = at_risk_escalations(session, cfg.escalation, now=now)
        forget_stale(session, now=now)  # "also viewing" check-ins older than a day
    for row in escalated:
        log.warning("escalated mention %s to %s: %s", row.mention_id, row.queue, row.reason)
    if channels is not None and channels.any:  # rubric escalations of the classify step go out here too
        for alert, reason in deliver_pending(store, channels)[1]:
            log.error("alert %s not delivered yet: %s", alert.id, reason)
    return len(started), len(escalated)


def desk_step(
    cfg: AppConfig,
    channels: AlertChannels | None = None,
    *,
    every_s: float = EVERY_S,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Store], tuple[int, int]]:
    """A ``run_forever`` step running :func:`run_desk` at most every ``every_s`` seconds."""
    last = [float("-inf")]

    def desk(store: Store) -> tuple[int, int]:
        if clock() - last[0] < every_s:
            return 0, 0
        last[0] = clock()
        return run_desk(store, cfg, channels)

    desk.__name__ = "desk_step"
    return desk
