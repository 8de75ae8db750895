"""Zoom connections (tokens sealed with the Zoom key), Zoom meetings, preferences and the
webhook signatures already seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.crypto import SecretBox
from meetbridge.domain.oauth import OAuthTokens as ZoomTokens
from meetbridge.store.sql import upsert
from meetbridge.store.tables import (
    user_preferences,
    webhook_receipts,
    zoom_connections,
    zoom_meetings,
)

ACCOUNT = "account"  # owner of the account-level app's connection

# --- connections ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoomConnection:
    owner: str
    zoom_user_id: str
    zoom_email: str
    pmi: int | None
    tokens: ZoomTokens


def _associated(owner: str) -> str:
    return f"zoom_connections:{owner}"


async def connection(
    conn: AsyncConnection, box: SecretBox, owner: str, for_update: bool = False
) -> ZoomConnection | None:
    """``for_update`` locks the row until the transaction ends (PostgreSQL; SQLite's write
    transactions are serialised already)."""
    query = select(zoom_connections).where(zoom_connections.c.owner == owner)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        return None
    tokens = ZoomTokens.from_json(box.decrypt(row.tokens_sealed, _associated(owner)))
    return ZoomConnection(owner, row.zoom_user_id, row.zoom_email, row.pmi, tokens)


async def save_connection(
    conn: AsyncConnection, box: SecretBox, connection: ZoomConnection, now: float
) -> None:
    values = {
        "owner": connection.owner,
        "zoom_user_id": connection.zoom_user_id,
        "zoom_email": connection.zoom_email,
        "pmi": connection.pmi,
        "tokens_sealed": box.encrypt(connection.tokens.to_json(), _associated(connection.owner)),
        "updated_at": now,
    }
    await upsert(conn, zoom_connections, values, key=["owner"])


# Refreshing is serialised through the database, because Zoom rotates refresh tokens: of two
# replicas refreshing with the same token, the second is refused and would otherwise conclude
# that the grant was revoked. A claim is a lease, so a replica that dies mid-refresh blocks
# the others only until it runs out.


async def claim_refresh(
    conn: AsyncConnection, owner: str, claim: str, now: float, lease: float
) -> bool:
    """Take the right to refresh ``owner``'s tokens; False while another holder's lease runs."""
    result = await conn.execute(
        update(zoom_connections)
        .where(
            zoom_connections.c.owner == owner,
            or_(
                zoom_connections.c.refresh_claimed_until.is_(None),
                zoom_connections.c.refresh_claimed_until < now,
            ),
        )
        .values(refresh_claim=claim, refresh_claimed_until=now + lease)
    )
    return result.rowcount == 1


async def save_refreshed(
    conn: AsyncConnection, box: SecretBox, connection: ZoomConnection, claim: str, now: float
) -> bool:
    """Store refreshed tokens and give the claim back; False if the claim was lost meanwhile."""
    result = await conn.execute(
        update(zoom_connections)
        .where(zoom_connections.c.owner == connection.owner, _held(claim))
        .values(
            tokens_sealed=box.encrypt(connection.tokens.to_json(), _associated(connection.owner)),
            updated_at=now,
            refresh_claim=None,
            refresh_claimed_until=None,
        )
    )
    return result.rowcount == 1


async def release_refresh(conn: AsyncConnection, owner: str, claim: str) -> None:
    await conn.execute(
        update(zoom_connections)
        .where(zoom_connections.c.owner == owner, _held(claim))
        .values(refresh_claim=None, refresh_claimed_until=None)
    )


async def delete_claimed(conn: AsyncConnection, owner: str, claim: str) -> bool:
    """Drop a connection whose grant Zoom revoked, only while our claim holds: otherwise the
    tokens we found spent may already have been replaced by another replica."""
    result = await conn.execute(
        delete(zoom_connections).where(zoom_connections.c.owner == owner, _held(claim))
    )
    return bool(result.rowcount)


def _held(claim: str) -> Any:
    return zoom_connections.c.refresh_claim == claim


async def delete_connection(conn: AsyncConnection, owner: str) -> bool:
    result = await conn.execute(delete(zoom_connections).where(zoom_connections.c.owner == owner))
    return bool(result.rowcount)


async def delete_all_connections(conn: AsyncConnection) -> int:
    result = await conn.execute(delete(zoom_connections))
    return int(result.rowcount or 0)


async def count_connections(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(zoom_connections)) or 0)


# --- meetings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoomMeeting:
    id: int
    channel_id: str
    meeting_id: str
    uuid: str
    join_url: str
    topic: str
    creator_id: str
    personal: bool
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration_minutes: int | None
    post_id: str | None


def _meeting(row: Any) -> ZoomMeeting:
    return ZoomMeeting(
        row.id,
        row.channel_id,
        row.meeting_id,
        row.uuid,
        row.join_url,
        row.topic,
        row.creator_id,
        row.personal,
        row.created_at,
        row.started_at,
        row.ended_at,
        row.duration_minutes,
        row.post_id,
    )


async def add_meeting(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(
        insert(zoom_meetings).values(**values).returning(zoom_meetings.c.id)
    )
    return int(result.scalar_one())


async def meeting(conn: AsyncConnection, row_id: int) -> ZoomMeeting | None:
    row = (await conn.execute(select(zoom_meetings).where(zoom_meetings.c.id == row_id))).first()
    return None if row is None else _meeting(row)


async def latest_for_zoom_id(conn: AsyncConnection, meeting_id: str) -> ZoomMeeting | None:
    row = (
        await conn.execute(
            select(zoom_meetings)
            .where(zoom_meetings.c.meeting_id == meeting_id)
            .order_by(zoom_meetings.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _meeting(row)


async def recent_in_channel(
    conn: AsyncConnection, channel_id: str, since: float
) -> ZoomMeeting | None:
    row = (
        await conn.execute(
            select(zoom_meetings)
            .where(
                zoom_meetings.c.channel_id == channel_id,
                zoom_meetings.c.created_at >= since,
                zoom_meetings.c.ended_at.is_(None),
            )
            .order_by(zoom_meetings.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _meeting(row)


async def update_meeting(conn: AsyncConnection, row_id: int, **values: Any) -> None:
    await conn.execute(update(zoom_meetings).where(zoom_meetings.c.id == row_id).values(**values))


# --- preferences and channel engines -----------------------------------------------------------


async def preference(conn: AsyncConnection, user_id: str, name: str) -> str | None:
    value: str | None = await conn.scalar(
        select(user_preferences.c.value).where(
            user_preferences.c.user_id == user_id, user_preferences.c.name == name
        )
    )
    return value


async def set_preference(conn: AsyncConnection, user_id: str, name: str, value: str) -> None:
    await upsert(
        conn,
        user_preferences,
        {"user_id": user_id, "name": name, "value": value},
        key=["user_id", "name"],
    )


# --- webhook replay protection ------------------------------------------------------------------


async def first_receipt(conn: AsyncConnection, signature: str, now: float, keep: float) -> bool:
    """Remember a webhook's signature; False when it was seen before (a replay).

    Call it in the transaction that applies the webhook: if applying fails, the receipt is
    rolled back with it and Zoom's retry is accepted. Of two concurrent deliveries, the second
    waits for the first to commit and then finds the receipt.
    """
    await conn.execute(delete(webhook_receipts).where(webhook_receipts.c.received_at < now - keep))
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted = await conn.scalar(
        dialect_insert(webhook_receipts)
        .values(signature=signature, received_at=now)
        .on_conflict_do_nothing(index_elements=["signature"])
        .returning(webhook_receipts.c.signature)
    )
    return inserted is not None


async def forget_receipt(conn: AsyncConnection, signature: str) -> None:
    """Undo first_receipt when the webhook could not be stored after all (its retry counts)."""
    await conn.execute(delete(webhook_receipts).where(webhook_receipts.c.signature == signature))
