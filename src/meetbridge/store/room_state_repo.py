"""A running meeting's room state that every replica shares: raised hands, recent in-meeting
chat, the rate windows of page actions, and each user's last call statistics.

Every action is one small statement (raising a hand also reads the queue it broadcasts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.call_stats import CallStats
from meetbridge.domain.ids import UserId
from meetbridge.store.sql import upsert
from meetbridge.store.tables import action_windows, call_stats, meeting_chat, meeting_hands


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --- hands ----------------------------------------------------------------------------------


async def raise_hand(
    conn: AsyncConnection, room: str, identity: str, name: str, at_ms: int
) -> None:
    """Add the device to the room's queue; a hand already up keeps its place."""
    await upsert(
        conn,
        meeting_hands,
        {"room": room, "identity": identity, "name": name, "raised_at_ms": at_ms},
        key=("room", "identity"),
        update=(),
    )


async def lower_hand(conn: AsyncConnection, room: str, identity: str) -> None:
    await conn.execute(
        delete(meeting_hands).where(
            meeting_hands.c.room == room, meeting_hands.c.identity == identity
        )
    )


async def lower_all_hands(conn: AsyncConnection, room: str) -> None:
    await conn.execute(delete(meeting_hands).where(meeting_hands.c.room == room))


async def hands(conn: AsyncConnection, room: str, limit: int) -> list[dict[str, Any]]:
    """The queue in the order the hands went up, as the page's HANDS message lists it."""
    rows = await conn.execute(
        select(meeting_hands.c.identity, meeting_hands.c.name, meeting_hands.c.raised_at_ms)
        .where(meeting_hands.c.room == room)
        .order_by(meeting_hands.c.raised_at_ms, meeting_hands.c.identity)
        .limit(limit)
    )
    return [{"identity": r.identity, "name": r.name, "at": r.raised_at_ms} for r in rows]


# --- chat -----------------------------------------------------------------------------------


async def add_chat_line(
    conn: AsyncConnection, room: str, line: Mapping[str, Any], now: float
) -> None:
    await conn.execute(
        meeting_chat.insert().values(
            room=room,
            line_id=str(line["id"]),
            name=str(line["name"]),
            text=str(line["text"]),
            at_ms=int(line["at"]),
            source=str(line["source"]),
            stored_at=now,
        )
    )


async def recent_chat(conn: AsyncConnection, room: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` lines, oldest first (the order a joining page shows them)."""
    rows = (
        await conn.execute(
            select(meeting_chat)
            .where(meeting_chat.c.room == room)
            .order_by(meeting_chat.c.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        {"id": r.line_id, "name": r.name, "text": r.text, "at": r.at_ms, "source": r.source}
        for r in reversed(rows)
    ]


# --- rate windows ---------------------------------------------------------------------------


async def count_action(
    conn: AsyncConnection, room: str, identity: str, group: str, now: float, window: float
) -> int:
    """Count a call of the identity in its window for this group of actions and return how
    many it has had in it; a window is ``window`` seconds from its first call (one statement,
    whichever replica)."""
    statement = _insert(conn, action_windows).values(
        identity=identity, action_group=group, room=room, started_at=now, count=1
    )
    current = action_windows.c
    # A window in the future is a wall clock that went back: start again, never freeze.
    expired = (current.started_at <= now - window) | (current.started_at > now)
    statement = statement.on_conflict_do_update(
        index_elements=["identity", "action_group"],
        set_={
            "count": case((expired, 1), else_=current.count + 1),
            "started_at": case((expired, now), else_=current.started_at),
            "room": room,
        },
    ).returning(current.count)
    return int(await conn.scalar(statement) or 0)


# --- a meeting's end, and age ---------------------------------------------------------------


async def forget_room(conn: AsyncConnection, room: str) -> None:
    """The meeting is over: its hands, chat and rate windows go (a new meeting in the same
    channel uses the same room name and must start clean)."""
    await conn.execute(delete(meeting_hands).where(meeting_hands.c.room == room))
    await conn.execute(delete(meeting_chat).where(meeting_chat.c.room == room))
    await conn.execute(delete(action_windows).where(action_windows.c.room == room))


async def prune(
    conn: AsyncConnection,
    now: float,
    room_state_age: float,
    stats_age: float,
    chat_lines: int,
) -> None:
    """Forget what a missed meeting end left behind, statistics nobody asked for in time
    (hands are stamped in milliseconds, the rest in seconds), and each room's chat lines but
    the newest ``chat_lines`` (all a joining device is sent), so a long meeting stays small."""
    newest_first = (
        func.row_number()
        .over(partition_by=meeting_chat.c.room, order_by=meeting_chat.c.id.desc())
        .label("place")
    )
    ranked = select(meeting_chat.c.id, newest_first).subquery()
    older = select(ranked.c.id).where(ranked.c.place > chat_lines)
    await conn.execute(delete(meeting_chat).where(meeting_chat.c.id.in_(older)))
    cutoff = now - room_state_age
    await conn.execute(delete(meeting_hands).where(meeting_hands.c.raised_at_ms < cutoff * 1000))
    await conn.execute(delete(meeting_chat).where(meeting_chat.c.stored_at < cutoff))
    await conn.execute(delete(action_windows).where(action_windows.c.started_at < cutoff))
    await conn.execute(delete(call_stats).where(call_stats.c.at < now - stats_age))


# --- call statistics ------------------------------------------------------------------------


async def save_stats(conn: AsyncConnection, user_id: UserId, stats: CallStats) -> None:
    await upsert(
        conn,
        call_stats,
        {
            "user_id": user_id,
            "send_kbps": stats.send_kbps,
            "receive_kbps": stats.receive_kbps,
            "packet_loss_percent": stats.packet_loss_percent,
            "rtt_ms": stats.rtt_ms,
            "at": stats.at,
        },
        key=("user_id",),
    )


async def last_stats(conn: AsyncConnection, user_id: UserId) -> CallStats | None:
    row = (await conn.execute(select(call_stats).where(call_stats.c.user_id == user_id))).first()
    if row is None:
        return None
    return CallStats(row.send_kbps, row.receive_kbps, row.packet_loss_percent, row.rtt_ms, row.at)
