"""What a deployment still owes, read from its shared database: every replica's /metrics gauges
see only its own share."""

from __future__ import annotations

from sqlalchemy import func, select

from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox, outbox


async def pending_work(database_url: str) -> tuple[int, int]:
    """(events not yet applied, outbox items waiting or running)."""
    database = open_database(database_url)
    try:
        async with database.read() as conn:
            events = await conn.scalar(
                select(func.count()).where(
                    inbox.c.applied_at.is_(None), inbox.c.failed_at.is_(None)
                )
            )
            items = await conn.scalar(
                select(func.count()).where(outbox.c.status.in_(["pending", "running"]))
            )
    finally:
        await database.close()
    return int(events or 0), int(items or 0)
