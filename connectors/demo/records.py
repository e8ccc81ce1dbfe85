"""What the demo generator yields: a mention plus the ground truth and history the demo seeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.base import Mention

SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("low", "normal", "high", "critical")

KIND_DIRECT = "direct"
"""Mentions the brand account: replyable."""
KIND_SEARCH = "search"
"""Names the brand without tagging it: found by keyword search, listen-only."""
KIND_COMPETITOR = "competitor"
KIND_NEWS = "news"
KIND_SPAM = "spam"
KIND_FOLLOWUP = "followup"
"""A post in an existing thread: the customer following up, or someone chiming in."""
KIND_BRAND_POST = "brand_post"
"""The brand's own status post (threaded, never queued)."""

STATUS_PENDING = "pending"
"""Answered, waiting on the customer."""
STATUS_RESOLVED = "resolved"
STATUS_IGNORED = "ignored"
STATUS_SPAM = "spam"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the care team already did about a mention before the demo starts.

    ``acted_at`` is the first action (the reply, or marking it ignored or spam).  A mention
    without an outcome is still new.
    """

    status: str
    agent: str
    acted_at: datetime
    reply_text: str | None = None
    reply_external_id: str | None = None
    resolved_at: datetime | None = None

    @property
    def replied(self) -> bool:
        """True when the brand posted a reply."""
        return self.reply_text is not None


@dataclass(frozen=True, slots=True)
class GeneratedMention:
    """A generated mention with the facts the generator intended.

    ``sentiment`` and ``urgency`` are the labels the text was written to carry; they seed the demo
    and can score a classifier on demo data, never train one for production.
    """

    mention: Mention
    brand: str
    sentiment: str
    urgency: str
    topic: str
    kind: str
    outcome: Outcome | None = None
