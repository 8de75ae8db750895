"""Recordings of LiveKit meetings, from start until their file is handed to the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import recordings

RECORDING, STOPPING, DONE, FAILED = "recording", "stopping", "done", "failed"
ACTIVE = (RECORDING, STOPPING)


@dataclass(frozen=True, slots=True)
class RecordingRow:
    id: int
    channel_id: str
    meeting_id: int | None
    room: str
    state: str
    started_by: str
    started_at: float
    ended_at: float | None
    pid: int | None
    path: str
    reminded: bool
    stop_reason: str
    node: str
    seconds: float | None
    size_bytes: int | None
    incomplete: bool
    post_id: str  # the Mattermost post carrying the file, once posted


def _row(row: Any) -> RecordingRow:
    return RecordingRow(**{column: getattr(row, column) for column in RecordingRow.__slots__})


async def create(
    conn: AsyncConnection,
    channel_id: str,
    meeting_id: int | None,
    room: str,
    started_by: str,
    started_at: float,
    node: str,
) -> int:
    result = await conn.execute(
        insert(recordings).values(
            channel_id=channel_id,
            meeting_id=meeting_id,
            room=room,
            state=RECORDING,
            started_by=started_by,
            started_at=started_at,
            path="",
            reminded=False,
            stop_reason="",
            node=node,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def get(conn: AsyncConnection, recording_id: int) -> RecordingRow | None:
    row = (await conn.execute(select(recordings).where(recordings.c.id == recording_id))).first()
    return _row(row) if row is not None else None


async def active_for_channel(conn: AsyncConnection, channel_id: str) -> RecordingRow | None:
    row = (
        await conn.execute(
            select(recordings)
            .where(recordings.c.channel_id == channel_id, recordings.c.state.in_(ACTIVE))
            .order_by(recordings.c.id.desc())
            .limit(1)
        )
    ).first()
    return _row(row) if row is not None else None


async def active(conn: AsyncConnection, node: str) -> list[RecordingRow]:
    """The running recordings whose recorders run on ``node`` (only that host sees them)."""
    rows = await conn.execute(
        select(recordings)
        .where(recordings.c.state.in_(ACTIVE), recordings.c.node == node)
        .order_by(recordings.c.id)
    )
    return [_row(row) for row in rows]


async def change(conn: AsyncConnection, recording_id: int, **values: Any) -> None:
    await conn.execute(update(recordings).where(recordings.c.id == recording_id).values(**values))


async def stop_requested(conn: AsyncConnection, recording_id: int, reason: str, at: float) -> bool:
    """Mark a running recording as stopping (the first reason wins), asked at ``at``: its
    recorder's grace to finish counts from then; False if it was not running."""
    result = await conn.execute(
        update(recordings)
        .where(recordings.c.id == recording_id, recordings.c.state == RECORDING)
        .values(state=STOPPING, stop_reason=reason, ended_at=at)
    )
    return bool(result.rowcount)


async def posted(conn: AsyncConnection, recording_id: int, post_id: str) -> None:
    await change(conn, recording_id, post_id=post_id)


async def of_meetings(
    conn: AsyncConnection, meeting_ids: list[int]
) -> dict[int, list[RecordingRow]]:
    """The recordings of these meetings, each meeting's in the order they were started (the
    admin console's meeting history); meetings without any are left out."""
    if not meeting_ids:
        return {}
    rows = await conn.execute(
        select(recordings)
        .where(recordings.c.meeting_id.in_(meeting_ids))
        .order_by(recordings.c.started_at, recordings.c.id)
    )
    listed: dict[int, list[RecordingRow]] = {}
    for row in rows:
        listed.setdefault(int(row.meeting_id), []).append(_row(row))
    return listed
