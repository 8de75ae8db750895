"""Waiting for the database to answer: containers and Kubernetes start a database and its
clients together, and `meetbridge migrate --wait` must not give up while it is still coming up."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from meetbridge.store.database import open_database

RETRY_EVERY = 1.0


async def wait_for_database(url: str, seconds: float) -> None:
    """Return once the database at ``url`` answers; after ``seconds`` raise the last error."""
    database = open_database(url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                async with database.read() as conn:
                    await conn.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(RETRY_EVERY)
    finally:
        await database.close()
