"""failed events: an inbox event whose application fails is set aside, not retried forever

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            "ix_inbox_failed",
            ["id"],
            unique=False,
            sqlite_where=sa.text("failed_at IS NOT NULL"),
            postgresql_where=sa.text("failed_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_failed")
        batch_op.drop_column("attempts")
        batch_op.drop_column("error")
        batch_op.drop_column("failed_at")
