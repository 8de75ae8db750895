"""Revision counters: how replicas learn that shared state changed.

Whoever changes settings, credentials, the channel filter or PINs bumps the topic's counter in the
same transaction; every replica compares counters about once a second and reloads what moved.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.sql import upsert
from meetbridge.store.tables import revisions


async def bump(conn: AsyncConnection, topic: str) -> None:
    result = await conn.execute(
        update(revisions).where(revisions.c.topic == topic).values(value=revisions.c.value + 1)
    )
    if result.rowcount == 0:
        await upsert(conn, revisions, {"topic": topic, "value": 1}, key=["topic"], update=())


async def read_all(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(revisions.c.topic, revisions.c.value))
    return {topic: value for topic, value in rows}
