"""mentions in export order: the created_at index becomes (created_at, id)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Exports, Explore and notebooks read mentions ``ORDER BY created_at, id``.

    With ``created_at`` alone PostgreSQL put an incremental sort of every (wide) row on top of the index scan,
    which the export paid for in server time (docs/benchmarks.md, exports, fourth session).  The new index
    serves every ``created_at`` range the old one did.
    """
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index("ix_mentions_created_id", ["created_at", "id"], unique=False)
        batch_op.drop_index("ix_mentions_created_at")


def downgrade() -> None:
    """Back to the ``created_at`` index."""
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index("ix_mentions_created_at", ["created_at"], unique=False)
        batch_op.drop_index("ix_mentions_created_id")
