"""PostgreSQL advisory locks: every key meetbridge takes, in one place so that no two uses of a
lock can share a key by accident."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

APPLIER_BATCH = 0x6D62_6170  # "mbap": one batch of events applied at a time across replicas
APPLIER_LEADER = 0x6D62_6C64  # "mbld": the replica that applies events (applier_leadership)
APPLIER_CANDIDATE = 0x6D62_6370  # "mbcp": held shared by replicas of high applier priority
MATTERMOST_SETUP = 0x6D62_7375  # "mbsu": registering /meet and the OAuth app, one at a time

_HOLD = text("SELECT pg_advisory_xact_lock(:key)")


async def hold_until_commit(conn: AsyncConnection, key: int) -> None:
    """Wait for the lock ``key`` and hold it until this transaction ends (or its connection
    dies, as when the replica is killed)."""
    await conn.execute(_HOLD, {"key": key})
