"""The channel filter as stored: explicit decisions per channel (allowed is the default)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId
from meetbridge.store import revisions
from meetbridge.store.sql import upsert
from meetbridge.store.tables import channel_filter

TOPIC = "channel_filter"


@dataclass(frozen=True)
class FilterEntry:
    channel_id: ChannelId
    allowed: bool
    updated_at: float
    updated_by: str


async def disallowed(conn: AsyncConnection) -> frozenset[ChannelId]:
    rows = await conn.execute(
        select(channel_filter.c.channel_id).where(channel_filter.c.allowed.is_(False))
    )
    return frozenset(ChannelId(channel_id) for (channel_id,) in rows)


async def entries(conn: AsyncConnection) -> list[FilterEntry]:
    rows = await conn.execute(select(channel_filter).order_by(channel_filter.c.channel_id))
    return [
        FilterEntry(ChannelId(r.channel_id), r.allowed, r.updated_at, r.updated_by) for r in rows
    ]


async def set_allowed(
    conn: AsyncConnection, channel_id: ChannelId, allowed: bool, actor: str, now: float
) -> None:
    await upsert(
        conn,
        channel_filter,
        {"channel_id": channel_id, "allowed": allowed, "updated_at": now, "updated_by": actor},
        key=["channel_id"],
    )
    await revisions.bump(conn, TOPIC)
