"""Who meetbridge made host (chair) in a channel's Pexip meeting, for every replica to see."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store.sql import upsert
from meetbridge.store.tables import pexip_host_grants as grants


async def grant(conn: AsyncConnection, channel_id: ChannelId, user_id: UserId, now: float) -> None:
    """The user is host (again): a grant already there is kept as it is."""
    values = {"channel_id": channel_id, "user_id": user_id, "granted_at": now}
    await upsert(conn, grants, values, key=("channel_id", "user_id"), update=())


async def hand_to(
    conn: AsyncConnection, channel_id: ChannelId, user_id: UserId, now: float
) -> None:
    """Host handed over: the user holds the channel's only grant."""
    await conn.execute(
        delete(grants).where((grants.c.channel_id == channel_id) & (grants.c.user_id != user_id))
    )
    await grant(conn, channel_id, user_id, now)


async def withdraw(conn: AsyncConnection, channel_id: ChannelId, user_id: UserId) -> None:
    await conn.execute(
        delete(grants).where((grants.c.channel_id == channel_id) & (grants.c.user_id == user_id))
    )


async def granted(conn: AsyncConnection, channel_id: ChannelId, user_id: UserId) -> bool:
    found = await conn.scalar(
        select(grants.c.user_id).where(
            (grants.c.channel_id == channel_id) & (grants.c.user_id == user_id)
        )
    )
    return found is not None


async def forget_channel(conn: AsyncConnection, channel_id: ChannelId) -> None:
    """The meeting ended: the next one starts with no host."""
    await conn.execute(delete(grants).where(grants.c.channel_id == channel_id))
