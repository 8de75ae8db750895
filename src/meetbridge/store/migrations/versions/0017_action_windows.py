"""action windows: every meeting-page action is rate-limited per device, not only reactions

Replaces reaction_windows (one window per device) with action_windows (one per device and group
of actions: chat, hands, reports, host actions, reactions). The windows are a few seconds long,
so nothing is carried over.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_windows",
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("action_group", sa.String(length=16), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", "action_group", name=op.f("pk_action_windows")),
    )
    op.create_index("ix_action_windows_room", "action_windows", ["room"])
    op.drop_index("ix_reaction_windows_room", table_name="reaction_windows")
    op.drop_table("reaction_windows")


def downgrade() -> None:
    op.create_table(
        "reaction_windows",
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_reaction_windows")),
    )
    op.create_index("ix_reaction_windows_room", "reaction_windows", ["room"])
    op.drop_index("ix_action_windows_room", table_name="action_windows")
    op.drop_table("action_windows")
