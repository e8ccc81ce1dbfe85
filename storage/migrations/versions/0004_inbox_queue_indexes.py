"""inbox queue indexes: a partial covering index for the open queue, brand-post flag in the status index

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

from storage import queue_index

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The open queue is read in priority order a page at a time; counts stop at a cap."""
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_queue")
        batch_op.create_index("ix_mentions_queue", ["status", "is_brand_post", "priority", "sla_due_at"], unique=False)
    bind = op.get_bind()
    op.execute(queue_index.create_sql(bind.dialect.name))
    op.execute("ANALYZE" if bind.dialect.name == "sqlite" else "ANALYZE mentions")


def downgrade() -> None:
    """Back to the single status index."""
    op.execute(queue_index.drop_sql())
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_queue")
        batch_op.create_index("ix_mentions_queue", ["status", "priority", "sla_due_at"], unique=False)
