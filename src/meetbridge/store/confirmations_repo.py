"""Confirmation dialogs already submitted (so each applies its change only once)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import used_confirmations


async def first_use(conn: AsyncConnection, nonce: str, now: float, keep: float) -> bool:
    """Remember a confirmation's nonce; False when it was used before (a replay).

    Nonces older than ``keep`` (the confirmation's lifetime) are forgotten: their states have
    expired and are refused on that ground. Of two concurrent submissions, the second waits for
    the first to commit and then finds the nonce.
    """
    await conn.execute(delete(used_confirmations).where(used_confirmations.c.used_at < now - keep))
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted = await conn.scalar(
        dialect_insert(used_confirmations)
        .values(nonce=nonce, used_at=now)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(used_confirmations.c.nonce)
    )
    return inserted is not None
