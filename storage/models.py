"""The whole domain as SQLAlchemy 2.0 typed models.

Relationships use ``lazy="raise"`` so an accidental N+1 query fails loudly; load what a page
needs with explicit ``selectinload``/``joinedload`` options.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.enums import (
    FeedbackField,
    MentionStatus,
    ReplyState,
    Role,
    SourceHealth,
)
from storage.types import BigId, JsonDoc, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def str_enum(enum: type[StrEnum], length: int = 16) -> Enum:
    """Store an enum by value as a short string, portable across dialects."""
    return Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Brand(Base):
    """A brand the team answers for, or a competitor it only listens to."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    is_competitor: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    competitor_of_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    handles: Mapped[list[BrandHandle]] = relationship(back_populates="brand", lazy="raise")


class BrandHandle(Base):
    """A brand's account on one platform; posts from it are the brand's own, never inbound."""

    __tablename__ = "brand_handles"
    __table_args__ = (UniqueConstraint("platform", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(120))
    external_user_id: Mapped[str | None] = mapped_column(String(64))

    brand: Mapped[Brand] = relationship(back_populates="handles", lazy="raise")


class Source(Base):
    """A configured connector with its cursor, health and lease."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_s: Mapped[int] = mapped_column(Integer, default=60)
    cursor: Mapped[str | None] = mapped_column(Text)
    cursor_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health: Mapped[SourceHealth] = mapped_column(str_enum(SourceHealth), default=SourceHealth.UNKNOWN)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reads_month: Mapped[str | None] = mapped_column(String(7))
    reads_used: Mapped[int] = mapped_column(Integer, default=0)
    mentions_ingested: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Author(Base):
    """Someone who posted, as the platform last described them."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("platform", "external_id"), Index("ix_authors_followers", "followers"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    handle: Mapped[str] = mapped_column(String(120), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    followers: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_vip: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A console user; the password is stored only as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mention(Base):
    """An inbound post (or one of the brand's own, flagged ``is_brand_post``).

    ``sentiment``, ``urgency`` and ``priority`` copy the current classification so the inbox can
    filter and sort on indexed columns; ``classifications`` keeps the full history.
    """

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        Index("ix_mentions_queue", "status", "is_brand_post", "priority", "sla_due_at"),
        Index("ix_mentions_brand_created", "brand_id", "created_at"),
        Index("ix_mentions_conversation", "platform", "conversation_id"),
        Index("ix_mentions_author_created", "author_id", "created_at"),
        Index("ix_mentions_assignee_status", "assignee_id", "status"),
        Index("ix_mentions_updated", "updated_at"),
        Index("ix_mentions_created_id", "created_at", "id"),  # the export order: no sort of ties by id
        Index(
            "ix_mentions_pending_due",
            "first_response_due_at",
            sqlite_where=text("first_response_at IS NULL"),
            postgresql_where=text("first_response_at IS NULL"),
        ),
        Index(
            "ix_mentions_clock_running",
            "sla_at_risk_at",
            sqlite_where=text("sla_responded_at IS NULL AND sla_at_risk_at IS NOT NULL"),
            postgresql_where=text("sla_responded_at IS NULL AND sla_at_risk_at IS NOT NULL"),
        ),
        Index(
            "ix_mentions_escalated",
            "escalation_queue",
            "escalated_at",
            sqlite_where=text("escalation_queue IS NOT NULL"),
            postgresql_where=text("escalation_queue IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(12))
    url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    in_reply_to_external_id: Mapped[str | None] = mapped_column(String(128))
    is_brand_post: Mapped[bool] = mapped_column(Boolean, default=False)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    repost_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    quote_count: Mapped[int] = mapped_column(Integer, default=0)
    metrics_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replyable: Mapped[bool] = mapped_column(Boolean, default=False)
    replyable_reason: Mapped[str] = mapped_column(String(255), default="")
    raw: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[MentionStatus] = mapped_column(str_enum(MentionStatus), default=MentionStatus.NEW)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[int | None] = mapped_column(Integer)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the running response round is due (first response, or next response after a follow-up or reopen)."""
    sla_kind: Mapped[str | None] = mapped_column(String(16))
    """``first_response`` or ``next_response``: what the round measures."""
    sla_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the configured share of the round's target (business time) has passed."""
    sla_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The brand reply that stopped the round; ``NULL`` while the clock runs."""
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The first round's due time, kept after later rounds: what first-response compliance is judged on."""
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_queue: Mapped[str | None] = mapped_column(String(32))
    """The queue of the mention's open escalation (copied from ``escalations`` for the Inbox's filters)."""
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    author: Mapped[Author | None] = relationship(lazy="raise")
    brand: Mapped[Brand | None] = relationship(lazy="raise")
    assignee: Mapped[User | None] = relationship(lazy="raise")
    tags: Mapped[list[MentionTag]] = relationship(lazy="raise", cascade="all, delete-orphan")


class MentionTag(Base):
    """A free tag an agent put on a mention (bulk "tag" action)."""

    __tablename__ = "mention_tags"

    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Classification(Base):
    """One model's scores for one mention; ``is_current`` marks the one the console shows."""

    __tablename__ = "classifications"
    __table_args__ = (
        UniqueConstraint("mention_id", "model_name", "model_version"),
        Index(
            "uq_classifications_current",
            "mention_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        Index("ix_classifications_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    sentiment: Mapped[str] = mapped_column(String(16))
    p_negative: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)
    p_positive: Mapped[float] = mapped_column(Float)
    urgency: Mapped[str] = mapped_column(String(16))
    urgency_score: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    topics: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    language: Mapped[str | None] = mapped_column(String(12))
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reply(Base):
    """The outbox: one row per reply, never posted twice (idempotency key + one in flight)."""

    __tablename__ = "replies"
    __table_args__ = (
        Index(
            "uq_replies_one_inflight",
            "mention_id",
            unique=True,
            sqlite_where=text("state IN ('queued', 'sending')"),
            postgresql_where=text("state IN ('queued', 'sending')"),
        ),
        Index("ix_replies_state_next", "state", "next_attempt_at"),
        Index("ix_replies_sent", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[ReplyState] = mapped_column(str_enum(ReplyState), default=ReplyState.QUEUED)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))
    external_url: Mapped[str | None] = mapped_column(String(512))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id", ondelete="SET NULL"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    """The worker (host:pid) that moved the reply to ``sending``: a dead claimant's row is settled at once."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Note(Base):
    """An internal note on a mention; never posted anywhere."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    """A saved reply with ``{variables}``, optionally tied to a brand and topics."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    sentiments: Mapped[list[str]] = mapped_column(JsonDoc, default=list, server_default=text("'[]'"))
    """Sentiments the template fits (empty: any); an apology is never offered for a thank-you."""
    platform: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LabelFeedback(Base):
    """An agent's correction of a label: training data for the next model."""

    __tablename__ = "label_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    classification_id: Mapped[int | None] = mapped_column(ForeignKey("classifications.id", ondelete="SET NULL"))
    field: Mapped[FeedbackField] = mapped_column(str_enum(FeedbackField))
    old_value: Mapped[str | None] = mapped_column(String(16))
    new_value: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only record of who did what; triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class LoginAttempt(Base):
    """Sign-in attempts: the log the throttles count (per username and address, per address, overall).

    A row is written *before* the password is checked, as a failure, and turned into a success
    afterwards, so an attempt that is still being checked already counts against the limits.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_user_address_at", "username", "client_address", "at"),
        Index("ix_login_attempts_address_at", "client_address", "at"),
        Index("ix_login_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    client_address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """The normalised client address (an IPv6 client by its /64), or "" when unknown or local."""
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class SignInThrottle(Base):
    """The row every sign-in reservation locks, so checking the limits and counting the attempt is atomic.

    PostgreSQL holds its row lock until commit; on SQLite the upsert is the transaction's first
    statement and takes the database's write lock.  Either way it works across console replicas.
    """

    __tablename__ = "sign_in_throttles"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthSession(Base):
    """A signed-in browser: only the SHA-256 of its random cookie token is stored."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Setting(Base):
    """Admin-edited settings (SLA policies, voice rules...) that override the config file."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Alert(Base):
    """A spike or crisis episode; notified once per episode."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_brand_started", "brand_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    peak_z: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Escalation(Base):
    """A mention handed to an escalation queue, by a person or a trigger, with its reason.

    ``trigger`` names what fired an automatic escalation (``sla_at_risk``, ``rubric:legal_threat``) and is
    ``NULL`` for a person's: the unique constraint makes each trigger fire once per mention, and the partial
    unique index keeps one open escalation per mention.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("mention_id", "trigger"),
        Index(
            "uq_escalations_open",
            "mention_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_escalations_queue_open", "queue", "ended_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str | None] = mapped_column(String(64))
    escalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The queue's own response target for this escalation."""
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    end_action: Mapped[str | None] = mapped_column(String(16))
    """``de-escalated``, ``handed_back``, ``moved`` (to another queue) or ``resolved``."""
    end_note: Mapped[str | None] = mapped_column(Text)


class WorkerStatus(Base):
    """A worker process's heartbeat and its last database outage, for the Sources page and ``sources``."""

    __tablename__ = "workers"

    owner: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outage_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outages: Mapped[int] = mapped_column(Integer, default=0)


class ReplyDraft(Base):
    """An agent's unsent reply, kept in the store so a takeover or a reload never loses it."""

    __tablename__ = "reply_drafts"

    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Presence(Base):
    """Who has a mention open right now ("also viewing"), refreshed while the page is open."""

    __tablename__ = "presence"
    __table_args__ = (Index("ix_presence_seen", "seen_at"),)

    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedView(Base):
    """A user's named Inbox view: the filters and sort as the URL's query string."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MentionRollupDaily(Base):
    """Inbound mentions per UTC day and dashboard dimension, kept by ``console.services.dashboard.rollup``.

    Counts add up across rows; the ``*_s`` columns hold each mention's duration in seconds as
    little-endian float64s, so percentiles over any set of rows stay exact.
    """

    __tablename__ = "mention_rollup_daily"
    # Covers the count-only reads (period mix, open backlog) so they skip the wide duration columns.
    __table_args__ = (
        Index(
            "ix_mention_rollup_daily_day",
            "day",
            "brand_id",
            "platform",
            "assignee_id",
            "sentiment",
            "urgency",
            "mentions",
            "open_now",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime)
    brand_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(16))
    mentions: Mapped[int] = mapped_column(Integer)
    sla_hit: Mapped[int] = mapped_column(Integer)
    sla_late: Mapped[int] = mapped_column(Integer)
    sla_overdue: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    open_now: Mapped[int] = mapped_column(Integer)
    first_response_s: Mapped[bytes | None] = mapped_column(LargeBinary)
    resolution_s: Mapped[bytes | None] = mapped_column(LargeBinary)
    ingestion_lag_s: Mapped[bytes | None] = mapped_column(LargeBinary)


class MentionRollupHourly(Base):
    """Inbound mentions per UTC hour, brand, platform and sentiment: the dashboards' time series."""

    __tablename__ = "mention_rollup_hourly"
    # Covers the time series' read: an index-only scan instead of one heap visit per row (refreshes rewrite
    # days in any order, so the table is not in hour order).
    __table_args__ = (
        Index(
            "ix_mention_rollup_hourly_cover",
            "hour",
            "brand_id",
            "platform",
            "sentiment",
            "mentions",
            "sla_hit",
            "sla_late",
            "sla_overdue",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    brand_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    mentions: Mapped[int] = mapped_column(Integer)
    sla_hit: Mapped[int] = mapped_column(Integer)
    sla_late: Mapped[int] = mapped_column(Integer)
    sla_overdue: Mapped[int] = mapped_column(Integer)


class TopicRollupDaily(Base):
    """Inbound mentions per UTC day, brand, platform and topic of the current classification."""

    __tablename__ = "topic_rollup_daily"
    __table_args__ = (Index("ix_topic_rollup_daily_day", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime)
    brand_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(Text)
    mentions: Mapped[int] = mapped_column(Integer)


class ReplyRollupDaily(Base):
    """Replies sent per UTC day (of sending), brand, platform and agent."""

    __tablename__ = "reply_rollup_daily"
    __table_args__ = (Index("ix_reply_rollup_daily_day", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime)
    brand_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """How far the rollups are up to date: every change after ``watermark`` is not in them yet."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "Alert",
    "AuditEntry",
    "AuthSession",
    "Author",
    "Base",
    "Brand",
    "BrandHandle",
    "Classification",
    "Escalation",
    "LabelFeedback",
    "LoginAttempt",
    "Mention",
    "MentionRollupDaily",
    "MentionRollupHourly",
    "MentionTag",
    "Note",
    "Presence",
    "ReplyState",
    "Reply",
    "ReplyDraft",
    "ReplyRollupDaily",
    "RollupState",
    "SavedView",
    "Setting",
    "SignInThrottle",
    "Source",
    "Template",
    "TopicRollupDaily",
    "User",
    "WorkerStatus",
]
