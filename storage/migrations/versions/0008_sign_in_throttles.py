"""sign-in throttles: the client address on each attempt, and the row every reservation locks

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Earlier attempts keep an unknown address (""), so they count only per username and overall."""
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_address", sa.String(length=64), nullable=False, server_default=""))
        batch_op.drop_index("ix_login_attempts_user_at")
        batch_op.create_index("ix_login_attempts_user_address_at", ["username", "client_address", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_address_at", ["client_address", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_at", ["at"], unique=False)
    op.create_table(
        "sign_in_throttles",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_sign_in_throttles")),
    )


def downgrade() -> None:
    """Drop the lock row's table and the address column with its indexes."""
    op.drop_table("sign_in_throttles")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_at")
        batch_op.drop_index("ix_login_attempts_address_at")
        batch_op.drop_index("ix_login_attempts_user_address_at")
        batch_op.drop_column("client_address")
        batch_op.create_index("ix_login_attempts_user_at", ["username", "at"], unique=False)
