"""Value sets shared by the models and the services."""

from __future__ import annotations

from enum import StrEnum


class MentionStatus(StrEnum):
    """Where a mention is in the team's workflow."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    IGNORED = "ignored"
    SPAM = "spam"


OPEN_STATUSES = (MentionStatus.NEW, MentionStatus.OPEN, MentionStatus.PENDING)


class Role(StrEnum):
    """What a user may do; enforced in the services."""

    AGENT = "agent"
    MANAGER = "manager"
    ANALYST = "analyst"
    ADMIN = "admin"


class ReplyState(StrEnum):
    """Outbox life cycle: queued → sending → sent | failed; needs_attention when unsure."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


INFLIGHT_REPLY_STATES = (ReplyState.QUEUED, ReplyState.SENDING)


class SourceHealth(StrEnum):
    """Whether a source's last runs worked."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    BUDGET_EXHAUSTED = "budget_exhausted"


class Sentiment(StrEnum):
    """Three-way sentiment, as the classifier emits it."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Urgency(StrEnum):
    """How soon a mention needs a human, per docs/urgency.md."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class FeedbackField(StrEnum):
    """Which label an agent corrected."""

    SENTIMENT = "sentiment"
    URGENCY = "urgency"
