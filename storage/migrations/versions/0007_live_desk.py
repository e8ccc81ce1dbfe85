"""the live desk: SLA clocks per response round, escalations, worker health, drafts, presence, saved views

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = storage.types.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
CLOCK_RUNNING = "sla_responded_at IS NULL AND sla_at_risk_at IS NOT NULL"
ESCALATED = "escalation_queue IS NOT NULL"


def _mention_columns() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("sla_started_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("sla_at_risk_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("sla_responded_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("first_response_due_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("escalation_queue", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", UTC_TIME, nullable=True))
    # Earlier stores kept one due time per mention, the first response's.  Open rounds are recomputed in the
    # brand's calendar by the worker (their at-risk time is unknown here); settled ones keep their verdict.
    op.execute(
        "UPDATE mentions SET first_response_due_at = sla_due_at, sla_responded_at = first_response_at, "
        "sla_started_at = created_at, sla_kind = 'first_response' WHERE sla_due_at IS NOT NULL"
    )
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_pending_due")
        batch_op.create_index("ix_mentions_pending_due", ["first_response_due_at"], unique=False,
                              sqlite_where=sa.text("first_response_at IS NULL"),
                              postgresql_where=sa.text("first_response_at IS NULL"))
        batch_op.create_index("ix_mentions_clock_running", ["sla_at_risk_at"], unique=False,
                              sqlite_where=sa.text(CLOCK_RUNNING), postgresql_where=sa.text(CLOCK_RUNNING))
        batch_op.create_index("ix_mentions_escalated", ["escalation_queue", "escalated_at"], unique=False,
                              sqlite_where=sa.text(ESCALATED), postgresql_where=sa.text(ESCALATED))


def _escalations() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mention_id", BIG_ID, nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("escalated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("end_action", sa.String(length=16), nullable=True),
        sa.Column("end_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ended_by_id"], ["users.id"], name=op.f("fk_escalations_ended_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["escalated_by_id"], ["users.id"], name=op.f("fk_escalations_escalated_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f("fk_escalations_mention_id_mentions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("mention_id", "trigger", name=op.f("uq_escalations_mention_id_trigger")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index("ix_escalations_queue_open", ["queue", "ended_at"], unique=False)
        batch_op.create_index("uq_escalations_open", ["mention_id"], unique=True,
                              sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL"))


def _people_tables() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_saved_views_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_views_user_id_name")),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_user_id"), ["user_id"], unique=False)
    for name, column in (("presence", sa.Column("seen_at", UTC_TIME, nullable=False)),
                         ("reply_drafts", sa.Column("text", sa.Text(), nullable=False))):
        extra: list[sa.Column[object]] = [sa.Column("updated_at", UTC_TIME, nullable=False)] if name == "reply_drafts" else []
        op.create_table(
            name,
            sa.Column("mention_id", BIG_ID, nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            column,
            *extra,
            sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f(f"fk_{name}_mention_id_mentions"),
                                    ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{name}_user_id_users"), ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("mention_id", "user_id", name=op.f(f"pk_{name}")),
        )
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.create_index("ix_presence_seen", ["seen_at"], unique=False)


def _workers() -> None:
    op.create_table(
        "workers",
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("host", sa.String(length=120), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("heartbeat_at", UTC_TIME, nullable=False),
        sa.Column("stopped_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTC_TIME, nullable=True),
        sa.Column("last_outage_started_at", UTC_TIME, nullable=True),
        sa.Column("last_outage_ended_at", UTC_TIME, nullable=True),
        sa.Column("outages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_workers")),
    )


def upgrade() -> None:
    """Every inbound replyable mention gets a live SLA clock; escalations, drafts and views get tables."""
    _mention_columns()
    _escalations()
    _people_tables()
    _workers()
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentiments", JSON_DOC, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    """Back to one due time per mention."""
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_column("sentiments")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    for table in ("workers", "reply_drafts", "presence", "saved_views", "escalations"):
        op.drop_table(table)
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_escalated")
        batch_op.drop_index("ix_mentions_clock_running")
        batch_op.drop_index("ix_mentions_pending_due")
        batch_op.create_index("ix_mentions_pending_due", ["sla_due_at"], unique=False,
                              sqlite_where=sa.text("first_response_at IS NULL"),
                              postgresql_where=sa.text("first_response_at IS NULL"))
        for column in ("escalated_at", "escalation_queue", "first_response_due_at", "sla_responded_at",
                       "sla_at_risk_at", "sla_started_at", "sla_kind"):
            batch_op.drop_column(column)
