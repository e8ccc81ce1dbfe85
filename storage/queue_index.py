"""The open-queue index: partial, covering, and ordered exactly like the inbox.

It needs per-dialect NULL ordering (PostgreSQL can say ``DESC NULLS LAST`` in an index, SQLite cannot),
which SQLAlchemy's ``Index`` cannot express, so migrations create it from this SQL and Alembic's
comparison is told to leave it alone (``MANAGED_OUTSIDE_METADATA``).
"""

from __future__ import annotations

NAME = "ix_mentions_open_queue"
MANAGED_OUTSIDE_METADATA = frozenset({NAME})
OPEN_STATUS_SQL = "('new', 'open', 'pending')"
_COVERED = "status, brand_id, platform, sentiment, urgency, replyable, assignee_id, language"


def create_sql(dialect: str) -> str:
    """``CREATE INDEX`` for ``dialect``; queries must render the same status list as literals to use it."""
    if dialect == "postgresql":
        return (
            f"CREATE INDEX IF NOT EXISTS {NAME} ON mentions "
            f"(priority DESC NULLS LAST, sla_due_at ASC NULLS LAST, id) INCLUDE ({_COVERED}) "
            f"WHERE status IN {OPEN_STATUS_SQL} AND is_brand_post IS false"
        )
    return (
        f"CREATE INDEX IF NOT EXISTS {NAME} ON mentions (priority DESC, sla_due_at, id, {_COVERED}) "
        f"WHERE status IN {OPEN_STATUS_SQL} AND is_brand_post IS 0"
    )


def drop_sql() -> str:
    """``DROP INDEX`` for every dialect."""
    return f"DROP INDEX IF EXISTS {NAME}"
