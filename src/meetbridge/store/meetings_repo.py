"""Meetings as stored: scalar columns for queries, the nodes as JSON, and one row per leg and
per attendee, written only when that leg or attendee changed (see tables.meeting_legs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Attendee, Leg, Meeting
from meetbridge.store.tables import meeting_attendees, meeting_legs, meetings


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


def row_key(text: str) -> str:
    """The stored key of a leg (its uuid) or an attendee (the person): fixed length, whatever
    length the engine sent."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _state(meeting: Meeting) -> dict[str, Any]:
    return {"nodes": sorted(meeting.nodes)}


def _from_row(row: Any, legs: list[Leg], attendees: list[Attendee]) -> Meeting:
    meeting = Meeting(
        id=row.id,
        conference=row.conference,
        channel_id=ChannelId(row.channel_id),
        started_at=row.started_at,
        ended_at=row.ended_at,
        peak_participants=row.peak_participants,
        nodes=set(row.state["nodes"]),
        legs={leg.uuid: leg for leg in legs},
        attendees={a.person: a for a in attendees},
        topic=row.topic,
        started_by=UserId(row.started_by) if row.started_by else None,
    )
    meeting.mark_stored(row.version)
    return meeting


async def _load(
    conn: AsyncConnection, rows: Iterable[Any], attendance: bool = True
) -> list[Meeting]:
    """Meetings from their rows, with their legs (and attendance: skip it where unused, it
    grows with the meeting's history)."""
    rows = list(rows)
    if not rows:
        return []
    ids = [row.id for row in rows]
    legs: dict[int, list[Leg]] = {i: [] for i in ids}
    attendees: dict[int, list[Attendee]] = {i: [] for i in ids}
    found = await conn.execute(
        select(meeting_legs.c.meeting_id, meeting_legs.c.data).where(
            meeting_legs.c.meeting_id.in_(ids)
        )
    )
    for meeting_id, data in found:
        legs[meeting_id].append(_leg_from_json(data))
    if attendance:
        found = await conn.execute(
            select(meeting_attendees.c.meeting_id, meeting_attendees.c.data).where(
                meeting_attendees.c.meeting_id.in_(ids)
            )
        )
        for meeting_id, data in found:
            attendees[meeting_id].append(_attendee_from_json(data))
    return [_from_row(row, legs[row.id], attendees[row.id]) for row in rows]


async def _load_one(conn: AsyncConnection, row: Any, attendance: bool = True) -> Meeting | None:
    return None if row is None else (await _load(conn, [row], attendance))[0]


async def active(
    conn: AsyncConnection,
    engine: str,
    channel_ids: Iterable[ChannelId],
    known: dict[int, Meeting] | None = None,
) -> dict[ChannelId, Meeting]:
    """The meetings in progress in these channels. A meeting in ``known`` whose version is the
    stored one is taken from there (and removed: the caller changes it) instead of read."""
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
    found, unknown = [], []
    for row in rows:
        kept = None if known is None else known.pop(row.id, None)
        if kept is not None and kept.version == row.version:
            found.append(kept)
        else:
            unknown.append(row)
    found += await _load(conn, unknown)
    return {meeting.channel_id: meeting for meeting in found}


def _values(engine: str, meeting: Meeting) -> dict[str, Any]:
    return {
        "channel_id": meeting.channel_id,
        "engine": engine,
        "conference": meeting.conference,
        "started_at": meeting.started_at,
        "ended_at": meeting.ended_at,
        "participant_count": meeting.present_count(),
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
        version=bindparam("b_version"),
    )
)


async def save(conn: AsyncConnection, engine: str, meeting: Meeting) -> None:
    await save_all(conn, engine, [meeting])


async def save_all(conn: AsyncConnection, engine: str, changed: Sequence[Meeting]) -> None:
    """Store meetings; existing ones first (one statement), so a meeting that ended frees its
    channel before a new one in the same channel is inserted. Only the legs and attendees that
    changed are written. Each meeting is then marked stored as its new version: callers that
    keep meetings across transactions must drop them if this transaction does not commit."""
    existing = [m for m in changed if m.id is not None]
    if existing:
        await conn.execute(
            _UPDATE,
            [
                {
                    "meeting_id": m.id,
                    "b_ended_at": m.ended_at,
                    "b_participant_count": m.present_count(),
                    "b_peak_participants": m.peak_participants,
                    "b_state": _state(m),
                    "b_topic": m.topic,
                    "b_started_by": m.started_by,
                    "b_version": m.version + 1,
                }
                for m in existing
            ],
        )
    versions = {id(m): m.version + 1 for m in existing}
    for meeting in (m for m in changed if m.id is None):
        meeting.id = (
            await conn.execute(
                insert(meetings).values(**_values(engine, meeting)).returning(meetings.c.id)
            )
        ).scalar_one()
        versions[id(meeting)] = 0
    await _write_rows(conn, changed)
    for meeting in changed:
        meeting.mark_stored(versions[id(meeting)])


async def _write_rows(conn: AsyncConnection, changed: Sequence[Meeting]) -> None:
    """The changed legs and attendees of these meetings: upserted, or deleted when gone."""
    legs: list[dict[str, Any]] = []
    gone: dict[int, list[str]] = {}
    attendees: list[dict[str, Any]] = []
    for meeting in changed:
        assert meeting.id is not None
        for uuid in meeting.changed_legs:
            leg = meeting.legs.get(uuid)
            if leg is None:
                gone.setdefault(meeting.id, []).append(row_key(uuid))
            else:
                legs.append(
                    {"meeting_id": meeting.id, "key": row_key(uuid), "data": _leg_to_json(leg)}
                )
        for person in meeting.changed_attendees:
            attendee = meeting.attendees.get(person)
            if attendee is not None:
                data = _attendee_to_json(attendee)
                attendees.append({"meeting_id": meeting.id, "key": row_key(person), "data": data})
    for meeting_id, keys in gone.items():
        await conn.execute(
            delete(meeting_legs).where(
                meeting_legs.c.meeting_id == meeting_id, meeting_legs.c.key.in_(keys)
            )
        )
    await _upsert(conn, meeting_legs, legs)
    await _upsert(conn, meeting_attendees, attendees)


async def _upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["meeting_id", "key"], set_={"data": statement.excluded.data}
        ),
        rows,
    )


async def in_progress(conn: AsyncConnection, attendance: bool = True) -> list[Meeting]:
    rows = await conn.execute(
        select(meetings).where(meetings.c.ended_at.is_(None)).order_by(meetings.c.started_at)
    )
    return await _load(conn, rows, attendance)


async def user_in_meeting(conn: AsyncConnection, user_id: UserId) -> bool:
    """Whether the user takes part (with media) in any meeting in progress."""
    return any(
        leg.user_id == user_id and leg.has_media
        for meeting in await in_progress(conn, attendance=False)
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
    return await _load(conn, rows)


async def get(conn: AsyncConnection, meeting_id: int, attendance: bool = True) -> Meeting | None:
    row = (await conn.execute(select(meetings).where(meetings.c.id == meeting_id))).first()
    return await _load_one(conn, row, attendance)


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
    return await _load_one(conn, row)


async def current_for_channel(
    conn: AsyncConnection, channel_id: ChannelId, attendance: bool = True
) -> Meeting | None:
    """The channel's meeting in progress (``attendance=False``: without who attended, for
    callers that look only at who is there now)."""
    row = (
        await conn.execute(
            select(meetings).where(
                meetings.c.channel_id == channel_id, meetings.c.ended_at.is_(None)
            )
        )
    ).first()
    return await _load_one(conn, row, attendance)


async def in_progress_of(conn: AsyncConnection, engine: str) -> list[Meeting]:
    """The meetings in progress on one engine (reconciling with its room list)."""
    rows = await conn.execute(
        select(meetings).where(meetings.c.engine == engine, meetings.c.ended_at.is_(None))
    )
    return await _load(conn, rows)
