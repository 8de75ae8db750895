"""used confirmations

The nonces of confirmation dialogs already submitted, so each applies its change once, on
whichever replica the submission reaches.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_confirmations",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("used_confirmations")
