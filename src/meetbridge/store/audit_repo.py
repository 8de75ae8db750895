"""The audit log: who changed what, and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    detail: dict[str, Any]


async def record(
    conn: AsyncConnection, actor: str, action: str, detail: dict[str, Any], now: float
) -> None:
    await conn.execute(insert(audit_log).values(at=now, actor=actor, action=action, detail=detail))


async def recent(conn: AsyncConnection, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    rows = await conn.execute(
        select(audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.detail)
        .order_by(audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [AuditEntry(at, actor, action, detail) for at, actor, action, detail in rows]
