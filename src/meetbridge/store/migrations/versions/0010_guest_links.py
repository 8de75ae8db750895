"""guest links

Links a channel admin makes for external guests of the channel's Pexip meeting: when each
expires and whether it was revoked. The link itself is a signed token naming the row; no PIN
and no secret is stored here.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guest_links",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=26), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_links")),
    )
    op.create_index("ix_guest_links_expires_at", "guest_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_guest_links_expires_at", table_name="guest_links")
    op.drop_table("guest_links")
