"""Facts about the deployment itself, such as which secret key its stored secrets need."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.sql import upsert
from meetbridge.store.tables import deployment

KEY_FINGERPRINT = "secret_key_fingerprint"
CREDENTIALS_REVEALED = "pexip_credentials_revealed"
LAST_POLICY_REQUEST = "pexip_last_policy_request"  # engines/pexip/policy_seen.py


async def get(conn: AsyncConnection, key: str) -> str | None:
    value: str | None = await conn.scalar(select(deployment.c.value).where(deployment.c.key == key))
    return value


async def set_if_missing(conn: AsyncConnection, key: str, value: str) -> str:
    """Store ``value`` unless a value is already there; return what is stored."""
    await upsert(conn, deployment, {"key": key, "value": value}, key=["key"], update=())
    stored = await get(conn, key)
    assert stored is not None
    return stored


async def put(conn: AsyncConnection, key: str, value: str) -> None:
    await upsert(conn, deployment, {"key": key, "value": value}, key=["key"])
