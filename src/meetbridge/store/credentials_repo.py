"""The HTTP Basic credentials Infinity uses for the policy server and the event sink."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.crypto import SecretBox
from meetbridge.store import revisions
from meetbridge.store.sql import upsert
from meetbridge.store.tables import pexip_credentials

TOPIC = "credentials"
_ASSOCIATED = "pexip_credentials:password"


@dataclass(frozen=True)
class PexipCredentials:
    username: str
    password: str
    created_at: float

    def __repr__(self) -> str:  # never let the password reach a log line
        return f"PexipCredentials(username={self.username!r}, password='***')"


async def get(conn: AsyncConnection, box: SecretBox) -> PexipCredentials | None:
    row = (await conn.execute(select(pexip_credentials).where(pexip_credentials.c.id == 1))).first()
    if row is None:
        return None
    password = box.decrypt(row.password_sealed, _ASSOCIATED)
    return PexipCredentials(row.username, password, row.created_at)


async def replace(conn: AsyncConnection, box: SecretBox, credentials: PexipCredentials) -> None:
    values = {
        "id": 1,
        "username": credentials.username,
        "password_sealed": box.encrypt(credentials.password, _ASSOCIATED),
        "created_at": credentials.created_at,
    }
    await upsert(conn, pexip_credentials, values, key=["id"])
    await revisions.bump(conn, TOPIC)


async def create_if_missing(
    conn: AsyncConnection, box: SecretBox, candidate: PexipCredentials
) -> None:
    values = {
        "id": 1,
        "username": candidate.username,
        "password_sealed": box.encrypt(candidate.password, _ASSOCIATED),
        "created_at": candidate.created_at,
    }
    await upsert(conn, pexip_credentials, values, key=["id"], update=())
