"""the hourly rollup's index covers the dashboard's time-series read

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVER = ["hour", "brand_id", "platform", "sentiment", "mentions", "sla_hit", "sla_late", "sla_overdue"]


def upgrade() -> None:
    """The dashboard's hourly series reads every rollup row of its range.

    Through the ``hour`` index PostgreSQL visited the heap once per row, as refreshes rewrite days in any order.
    With every column it reads in the index it scans the index alone (``Heap Fetches: 0`` after a vacuum; the
    timings are in docs/benchmarks.md, Dashboard).  The index still serves every ``hour`` range the old one did.
    """
    with op.batch_alter_table("mention_rollup_hourly", schema=None) as batch_op:
        batch_op.create_index("ix_mention_rollup_hourly_cover", COVER, unique=False)
        batch_op.drop_index("ix_mention_rollup_hourly_hour")


def downgrade() -> None:
    """Back to the ``hour`` index."""
    with op.batch_alter_table("mention_rollup_hourly", schema=None) as batch_op:
        batch_op.create_index("ix_mention_rollup_hourly_hour", ["hour"], unique=False)
        batch_op.drop_index("ix_mention_rollup_hourly_cover")
