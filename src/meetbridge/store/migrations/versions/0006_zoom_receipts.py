"""zoom token refresh claims

Replicas take turns refreshing a Zoom connection's tokens: the claim and its lease live on the
connection row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("zoom_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_claim", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("refresh_claimed_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zoom_connections", schema=None) as batch_op:
        batch_op.drop_column("refresh_claimed_until")
        batch_op.drop_column("refresh_claim")
