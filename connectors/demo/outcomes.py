"""What the care team already did: replies with realistic response times, resolutions, triage.

Response times are log-normal, as in real care data: most answers come within the hour, a long
tail stretches to a day, and urgent posts are answered faster.  An action that would fall after
the end of the range has not happened yet, so recent mentions are still open.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from random import Random

from connectors.base import Mention
from connectors.demo import replies
from connectors.demo.platforms import STREAM_REPLY, mint_id
from connectors.demo.records import (
    KIND_BRAND_POST,
    KIND_SPAM,
    STATUS_IGNORED,
    STATUS_PENDING,
    STATUS_RESOLVED,
    STATUS_SPAM,
    Outcome,
)
from connectors.demo.world import DemoBrand

MINUTE_MS = 60_000
MAX_RESPONSE_MS = 26 * 60 * MINUTE_MS

RESPONSE_MEDIAN_MIN = {"critical": 9.0, "high": 22.0, "normal": 45.0, "low": 80.0}
"""Median minutes to first reply, by urgency."""
REPLY_CHANCE = {"critical": 0.96, "high": 0.85, "normal": 0.72, "low": 0.45}


def _lognormal_ms(rng: Random, median_min: float, sigma: float) -> int:
    """A log-normal delay; the far tail is folded back into half a day to a day, as in care data."""
    delay = int(MINUTE_MS * median_min * math.exp(rng.gauss(0.0, sigma)))
    if delay > MAX_RESPONSE_MS:
        delay = MAX_RESPONSE_MS // 2 + int(rng.random() * (MAX_RESPONSE_MS // 2))
    return delay


class OutcomePlanner:
    """Decides, deterministically from the shared random stream, what happened to each mention."""

    def __init__(self, rng: Random, end_ms: int, epoch: datetime) -> None:
        self._rng = rng
        self._end_ms = end_ms
        self._epoch = epoch

    def _at(self, ms: int) -> datetime:
        return self._epoch + timedelta(milliseconds=ms)

    def plan(
        self,
        mention: Mention,
        created_ms: int,
        *,
        brand: DemoBrand,
        kind: str,
        topic: str,
        sentiment: str,
        urgency: str,
        counter: int,
    ) -> Outcome | None:
        """The outcome for one mention, or ``None`` when nobody has touched it yet."""
        rng = self._rng
        if kind == KIND_BRAND_POST or brand.is_competitor:
            return None
        agent = brand.agents[int(rng.random() * len(brand.agents))]
        if kind == KIND_SPAM:
            return self._triage(created_ms, agent, STATUS_SPAM, 18.0, 0.88)
        if not mention.replyable:
            return self._triage(created_ms, agent, STATUS_IGNORED, 150.0, 0.3)
        if rng.random() >= REPLY_CHANCE[urgency]:
            return self._triage(created_ms, agent, STATUS_IGNORED, 120.0, 0.5 if sentiment == "positive" else 0.1)
        replied_ms = created_ms + MINUTE_MS // 2 + _lognormal_ms(rng, RESPONSE_MEDIAN_MIN[urgency], 1.15)
        if replied_ms > self._end_ms:
            return None
        text = replies.reply_text(
            brand,
            agent,
            topic=topic,
            sentiment=sentiment,
            urgency=urgency,
            language=mention.language or "en",
            r=rng.random,
        )
        reply_id = mint_id(mention.platform, replied_ms, STREAM_REPLY, counter)
        resolved_at = self._resolution(replied_ms, sentiment, urgency)
        return Outcome(
            status=STATUS_RESOLVED if resolved_at else STATUS_PENDING,
            agent=agent,
            acted_at=self._at(replied_ms),
            reply_text=text,
            reply_external_id=reply_id,
            resolved_at=resolved_at,
        )

    def _triage(self, created_ms: int, agent: str, status: str, median_min: float, chance: float) -> Outcome | None:
        """Mark spam or ignored, some time later, with probability ``chance``."""
        if self._rng.random() >= chance:
            return None
        acted_ms = created_ms + _lognormal_ms(self._rng, median_min, 1.0)
        if acted_ms > self._end_ms:
            return None
        return Outcome(status=status, agent=agent, acted_at=self._at(acted_ms))

    def _resolution(self, replied_ms: int, sentiment: str, urgency: str) -> datetime | None:
        """Praise closes with the reply; problems take hours, critical ones most of a day."""
        rng = self._rng
        if sentiment == "positive":
            return self._at(replied_ms + MINUTE_MS)
        if rng.random() < 0.15:
            return None
        median = 1100.0 if urgency == "critical" else 150.0
        resolved_ms = replied_ms + _lognormal_ms(rng, median, 1.1)
        return self._at(resolved_ms) if resolved_ms <= self._end_ms else None
