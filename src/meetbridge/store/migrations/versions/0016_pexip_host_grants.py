"""pexip host grants: the members meetbridge made chair in a channel's Pexip meeting

Infinity reports who is chair, but a chair may have been made by something other than
meetbridge (a host PIN that leaked, a Webapp3 host's own menu): the control API trusts a chair
only when meetbridge granted it (issue 20). A grant lasts until meetbridge hands host to someone
else or the meeting ends.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pexip_host_grants",
        sa.Column("channel_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("granted_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("pexip_host_grants")
