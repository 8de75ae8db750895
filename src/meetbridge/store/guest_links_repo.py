"""Guest links: created, looked up, listed for the admin console, revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.guest_links import GuestLink
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store.tables import guest_links


def _from_row(row: Any) -> GuestLink:
    return GuestLink(
        id=row.id,
        channel_id=ChannelId(row.channel_id),
        created_by=UserId(row.created_by),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


async def add(conn: AsyncConnection, link: GuestLink) -> None:
    await conn.execute(
        insert(guest_links).values(
            id=link.id,
            channel_id=link.channel_id,
            created_by=link.created_by,
            created_at=link.created_at,
            expires_at=link.expires_at,
        )
    )


async def get(conn: AsyncConnection, link_id: str) -> GuestLink | None:
    row = (await conn.execute(select(guest_links).where(guest_links.c.id == link_id))).first()
    return None if row is None else _from_row(row)


async def active(conn: AsyncConnection, now: float, limit: int = 200) -> list[GuestLink]:
    """Links neither expired nor revoked, the ones expiring soonest first."""
    rows = await conn.execute(
        select(guest_links)
        .where(guest_links.c.expires_at > now, guest_links.c.revoked_at.is_(None))
        .order_by(guest_links.c.expires_at, guest_links.c.id)
        .limit(limit)
    )
    return [_from_row(row) for row in rows]


async def revoke(conn: AsyncConnection, link_id: str, now: float, by: str) -> bool:
    """Revoke a link still in force; False when there was none to revoke."""
    result = await conn.execute(
        update(guest_links)
        .where(guest_links.c.id == link_id, guest_links.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by[:128])
    )
    return bool(result.rowcount)
