"""Stored runtime settings (only those an admin changed; the rest are defaults)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store import revisions
from meetbridge.store.sql import upsert
from meetbridge.store.tables import settings

TOPIC = "settings"


async def load(conn: AsyncConnection) -> dict[str, Any]:
    rows = await conn.execute(select(settings.c.key, settings.c.value))
    return {key: value for key, value in rows}


async def save(conn: AsyncConnection, key: str, value: Any, actor: str, now: float) -> None:
    await upsert(
        conn,
        settings,
        {"key": key, "value": value, "updated_at": now, "updated_by": actor},
        key=["key"],
    )
    await revisions.bump(conn, TOPIC)
