"""meeting_legs, meeting_attendees: a meeting's legs and attendance as rows, written as they
change, instead of one JSON document rewritten whenever anything in the meeting changes;
meetings.version lets the event applier keep meetings in memory between batches

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "meetings", sa.Column("version", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "meeting_legs",
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("meeting_id", "key", name=op.f("pk_meeting_legs")),
    )
    op.create_table(
        "meeting_attendees",
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("meeting_id", "key", name=op.f("pk_meeting_attendees")),
    )
    _move_state_to_rows()


def _move_state_to_rows() -> None:
    """Meetings stored before this revision carry legs and attendees in ``state``."""
    connection = op.get_bind()
    meetings = sa.table("meetings", sa.column("id", sa.BigInteger()), sa.column("state", sa.JSON()))
    legs = sa.table(
        "meeting_legs",
        sa.column("meeting_id", sa.BigInteger()),
        sa.column("key", sa.String()),
        sa.column("data", sa.JSON()),
    )
    attendees = sa.table(
        "meeting_attendees",
        sa.column("meeting_id", sa.BigInteger()),
        sa.column("key", sa.String()),
        sa.column("data", sa.JSON()),
    )
    for meeting_id, state in list(connection.execute(sa.select(meetings.c.id, meetings.c.state))):
        document: dict[str, Any] = json.loads(state) if isinstance(state, str) else state
        leg_rows = [
            {"meeting_id": meeting_id, "key": _key(leg["uuid"]), "data": leg}
            for leg in document.get("legs", [])
        ]
        attendee_rows = [
            {"meeting_id": meeting_id, "key": _key(a["person"]), "data": a}
            for a in document.get("attendees", [])
        ]
        if leg_rows:
            connection.execute(sa.insert(legs), leg_rows)
        if attendee_rows:
            connection.execute(sa.insert(attendees), attendee_rows)
        connection.execute(
            sa.update(meetings)
            .where(meetings.c.id == meeting_id)
            .values(state={"nodes": document.get("nodes", [])})
        )


def _key(text: str) -> str:
    # As meetings_repo.row_key (a migration must not change when the code does).
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def downgrade() -> None:
    connection = op.get_bind()
    meetings = sa.table("meetings", sa.column("id", sa.BigInteger()), sa.column("state", sa.JSON()))
    for meeting_id, state in list(connection.execute(sa.select(meetings.c.id, meetings.c.state))):
        document: dict[str, Any] = json.loads(state) if isinstance(state, str) else state
        for table, name in (("meeting_legs", "legs"), ("meeting_attendees", "attendees")):
            rows_of = sa.table(table, sa.column("meeting_id"), sa.column("data", sa.JSON()))
            rows = connection.execute(
                sa.select(rows_of.c.data).where(rows_of.c.meeting_id == meeting_id)
            )
            document[name] = [json.loads(d) if isinstance(d, str) else d for (d,) in rows]
        connection.execute(
            sa.update(meetings).where(meetings.c.id == meeting_id).values(state=document)
        )
    op.drop_table("meeting_attendees")
    op.drop_table("meeting_legs")
    op.drop_column("meetings", "version")
