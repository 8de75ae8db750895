"""meeting room state shared by replicas: raised hands, recent chat, reaction windows, stats

The meeting page's control calls may reach any replica behind the load balancer: what one
replica records (a hand raised, a chat line, a stats report) another must answer from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meeting_hands",
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("raised_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("room", "identity", name=op.f("pk_meeting_hands")),
    )
    op.create_table(
        "meeting_chat",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("stored_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_chat")),
    )
    op.create_index("ix_meeting_chat_room", "meeting_chat", ["room", "id"])
    op.create_index("ix_meeting_chat_stored", "meeting_chat", ["stored_at"])
    op.create_table(
        "reaction_windows",
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_reaction_windows")),
    )
    op.create_index("ix_reaction_windows_room", "reaction_windows", ["room"])
    op.create_table(
        "call_stats",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("send_kbps", sa.Float(), nullable=False),
        sa.Column("receive_kbps", sa.Float(), nullable=False),
        sa.Column("packet_loss_percent", sa.Float(), nullable=False),
        sa.Column("rtt_ms", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_call_stats")),
    )


def downgrade() -> None:
    op.drop_table("call_stats")
    op.drop_index("ix_reaction_windows_room", table_name="reaction_windows")
    op.drop_table("reaction_windows")
    op.drop_index("ix_meeting_chat_stored", table_name="meeting_chat")
    op.drop_index("ix_meeting_chat_room", table_name="meeting_chat")
    op.drop_table("meeting_chat")
    op.drop_table("meeting_hands")
