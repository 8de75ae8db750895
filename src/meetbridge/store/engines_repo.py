"""Which engine each channel has chosen (``/meet engine``); absent: the install's default."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.sql import upsert
from meetbridge.store.tables import channel_engines


async def channel_engine(conn: AsyncConnection, channel_id: str) -> str | None:
    engine: str | None = await conn.scalar(
        select(channel_engines.c.engine).where(channel_engines.c.channel_id == channel_id)
    )
    return engine


async def set_channel_engine(
    conn: AsyncConnection, channel_id: str, engine: str | None, actor: str, now: float
) -> None:
    if engine is None:
        await conn.execute(
            delete(channel_engines).where(channel_engines.c.channel_id == channel_id)
        )
        return
    values = {"channel_id": channel_id, "engine": engine, "updated_by": actor, "updated_at": now}
    await upsert(conn, channel_engines, values, key=["channel_id"])
