"""Meetings as stored: scalar columns for queries, the full state (legs, attendance) as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Attendee, Leg, Meeting
from meetbridge.store.tables import meetings


def _leg_to_json(leg: Leg) -> dict[str, Any]:
    return {
        "uuid": leg.uuid,
        "node": leg.node,
        "display_name": leg.display_name,
        "role": leg.role,
        "call_tag": leg.call_tag,
        "user_id": leg.user_id,
        "protocol": leg.protocol,
        "has_media": leg.has_media,
        "is_muted": leg.is_muted,
        "is_presenting": leg.is_presenting,
        "joined_at": leg.joined_at,
    }


def _leg_from_json(data: dict[str, Any]) -> Leg:
    return Leg(
        uuid=data["uuid"],
        node=data["node"],
        display_name=data["display_name"],
        role=data["role"],
        call_tag=data["call_tag"],
        user_id=UserId(data["user_id"]) if data.get("user_id") else None,
        protocol=data["protocol"],
        has_media=data["has_media"],
        is_muted=data["is_muted"],
        is_presenting=data["is_presenting"],
        joined_at=data["joined_at"],
    )


def _attendee_to_json(attendee: Attendee) -> dict[str, Any]:
    return {
        "person": attendee.person,
        "display_name": attendee.display_name,
        "user_id": attendee.user_id,
        "first_joined_at": attendee.first_joined_at,
        "last_left_at": attendee.last_left_at,
    }


def _attendee_from_json(data: dict[str, Any]) -> Attendee:
    return Attendee(
        person=data["person"],
        display_name=data["display_name"],
        user_id=UserId(data["user_id"]) if data.get("user_id") else None,
        first_joined_at=data["first_joined_at"],
        last_left_at=data.get("last_left_at"),
    )


def _state(meeting: Meeting) -> dict[str, Any]:
    return {
        "nodes": sorted(meeting.nodes),
        "legs": [_leg_to_json(leg) for leg in meeting.legs.values()],
        "attendees": [_attendee_to_json(a) for a in meeting.attendees.values()],
    }


def _from_row(row: Any) -> Meeting:
    state = row.state
    return Meeting(
        id=row.id,
        conference=row.conference,
        channel_id=ChannelId(row.channel_id),
        started_at=row.started_at,
        ended_at=row.ended_at,
        peak_participants=row.peak_participants,
        nodes=set(state["nodes"]),
        legs={leg["uuid"]: _leg_from_json(leg) for leg in state["legs"]},
        attendees={a["person"]: _attendee_from_json(a) for a in state["attendees"]},
        topic=row.topic,
        started_by=UserId(row.started_by) if row.started_by else None,
    )


async def active(
    conn: AsyncConnection, engine: str, channel_ids: Iterable[ChannelId]
) -> dict[ChannelId, Meeting]:
    ids = list(set(channel_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(meetings).where(
            meetings.c.engine == engine,
            meetings.c.channel_id.in_(ids),
            meetings.c.ended_at.is_(None),
        )
    )
    found = [_from_row(row) for row in rows]
    return {meeting.channel_id: meeting for meeting in found}


def _values(engine: str, meeting: Meeting) -> dict[str, Any]:
    return {
        "channel_id": meeting.channel_id,
        "engine": engine,
        "conference": meeting.conference,
        "started_at": meeting.started_at,
        "ended_at": meeting.ended_at,
        "participant_count": len(meeting.people_present()),
        "peak_participants": meeting.peak_participants,
        "state": _state(meeting),
        "topic": meeting.topic,
        "started_by": meeting.started_by,
    }


_UPDATE = (
    update(meetings)
    .where(meetings.c.id == bindparam("meeting_id"))
    .values(
        ended_at=bindparam("b_ended_at"),
        participant_count=bindparam("b_participant_count"),
        peak_participants=bindparam("b_peak_participants"),
        state=bindparam("b_state", type_=meetings.c.state.type),
        topic=bindparam("b_topic"),
        started_by=bindparam("b_started_by"),
    )
)


async def save(conn: AsyncConnection, engine: str, meeting: Meeting) -> None:
    await save_all(conn, engine, [meeting])


async def save_all(conn: AsyncConnection, engine: str, changed: Sequence[Meeting]) -> None:
    """Store meetings; existing ones first (one statement), so a meeting that ended frees its
    channel before a new one in the same channel is inserted."""
    existing = [m for m in changed if m.id is not None]
    if existing:
        await conn.execute(
            _UPDATE,
            [
                {
                    "meeting_id": m.id,
                    "b_ended_at": m.ended_at,
                    "b_participant_count": len(m.people_present()),
                    "b_peak_participants": m.peak_participants,
                    "b_state": _state(m),
                    "b_topic": m.topic,
                    "b_started_by": m.started_by,
                }
                for m in existing
            ],
        )
    for meeting in (m for m in changed if m.id is None):
        meeting.id = (
            await conn.execute(
                insert(meetings).values(**_values(engine, meeting)).returning(meetings.c.id)
            )
        ).scalar_one()


async def in_progress(conn: AsyncConnection) -> list[Meeting]:
    rows = await conn.execute(
        select(meetings).where(meetings.c.ended_at.is_(None)).order_by(meetings.c.started_at)
    )
    return [_from_row(row) for row in rows]


async def user_in_meeting(conn: AsyncConnection, user_id: UserId) -> bool:
    """Whether the user takes part (with media) in any meeting in progress."""
    return any(
        leg.user_id == user_id and leg.has_media
        for meeting in await in_progress(conn)
        for leg in meeting.legs.values()
    )


async def count_in_progress(conn: AsyncConnection) -> int:
    count = await conn.scalar(select(func.count()).where(meetings.c.ended_at.is_(None)))
    return int(count or 0)


async def recent(conn: AsyncConnection, limit: int = 50, offset: int = 0) -> list[Meeting]:
    rows = await conn.execute(
        select(meetings)
        .where(meetings.c.ended_at.is_not(None))
        .order_by(meetings.c.ended_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_from_row(row) for row in rows]


async def get(conn: AsyncConnection, meeting_id: int) -> Meeting | None:
    row = (await conn.execute(select(meetings).where(meetings.c.id == meeting_id))).first()
    return None if row is None else _from_row(row)


async def engine_of(conn: AsyncConnection, meeting_id: int) -> str | None:
    """The engine that holds the meeting (None for an unknown meeting)."""
    query = select(meetings.c.engine).where(meetings.c.id == meeting_id)
    engine = (await conn.execute(query)).scalar_one_or_none()
    return None if engine is None else str(engine)


async def last_ended(conn: AsyncConnection, channel_id: ChannelId) -> Meeting | None:
    row = (
        await conn.execute(
            select(meetings)
            .where(meetings.c.channel_id == channel_id, meetings.c.ended_at.is_not(None))
            .order_by(meetings.c.ended_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _from_row(row)


async def current_for_channel(conn: AsyncConnection, channel_id: ChannelId) -> Meeting | None:
    row = (
        await conn.execute(
            select(meetings).where(
                meetings.c.channel_id == channel_id, meetings.c.ended_at.is_(None)
            )
        )
    ).first()
    return None if row is None else _from_row(row)


async def in_progress_of(conn: AsyncConnection, engine: str) -> list[Meeting]:
    """The meetings in progress on one engine (reconciling with its room list)."""
    rows = await conn.execute(
        select(meetings).where(meetings.c.engine == engine, meetings.c.ended_at.is_(None))
    )
    return [_from_row(row) for row in rows]
