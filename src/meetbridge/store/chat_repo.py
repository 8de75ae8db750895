"""What meetbridge keeps about its presence in Mattermost: command tokens, cards, ringing,
join intents and custom-status back-ups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.crypto import SecretBox
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store import revisions
from meetbridge.store.sql import upsert
from meetbridge.store.tables import (
    integration_secrets,
    join_intents,
    meeting_cards,
    ringing,
    slash_commands,
    status_backups,
)

COMMANDS_TOPIC = "slash_commands"

# --- slash command tokens --------------------------------------------------------------------


async def save_command(
    conn: AsyncConnection,
    box: SecretBox,
    team_id: str,
    command_id: str,
    trigger: str,
    token: str,
    now: float,
) -> None:
    values = {
        "team_id": team_id,
        "command_id": command_id,
        "trigger": trigger,
        "token_sealed": box.encrypt(token, f"slash_commands:{team_id}"),
        "updated_at": now,
    }
    await upsert(conn, slash_commands, values, key=["team_id"])
    await revisions.bump(conn, COMMANDS_TOPIC)


async def command_tokens(conn: AsyncConnection, box: SecretBox) -> dict[str, str]:
    rows = await conn.execute(select(slash_commands.c.team_id, slash_commands.c.token_sealed))
    return {team: box.decrypt(sealed, f"slash_commands:{team}") for team, sealed in rows}


# --- sealed integration secrets --------------------------------------------------------------


async def get_secret(conn: AsyncConnection, box: SecretBox, name: str) -> str | None:
    sealed = await conn.scalar(
        select(integration_secrets.c.sealed).where(integration_secrets.c.name == name)
    )
    return None if sealed is None else box.decrypt(sealed, f"integration_secrets:{name}")


async def put_secret(
    conn: AsyncConnection, box: SecretBox, name: str, value: str, now: float
) -> None:
    values = {
        "name": name,
        "sealed": box.encrypt(value, f"integration_secrets:{name}"),
        "updated_at": now,
    }
    await upsert(conn, integration_secrets, values, key=["name"])


# --- join intents ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinIntent:
    channel_id: ChannelId
    user_id: UserId
    display_name: str
    topic: str | None
    issued_at: float


async def record_intent(
    conn: AsyncConnection,
    channel_id: ChannelId,
    user_id: UserId,
    display_name: str,
    topic: str | None,
    now: float,
) -> None:
    await conn.execute(
        insert(join_intents).values(
            channel_id=channel_id,
            user_id=user_id,
            display_name=display_name,
            topic=topic,
            issued_at=now,
        )
    )


async def recent_intents(
    conn: AsyncConnection, channel_ids: set[ChannelId], since: float
) -> list[JoinIntent]:
    if not channel_ids:
        return []
    rows = await conn.execute(
        select(join_intents)
        .where(join_intents.c.channel_id.in_(channel_ids), join_intents.c.issued_at >= since)
        .order_by(join_intents.c.issued_at)
    )
    return [
        JoinIntent(ChannelId(r.channel_id), UserId(r.user_id), r.display_name, r.topic, r.issued_at)
        for r in rows
    ]


async def prune_intents(conn: AsyncConnection, before: float) -> None:
    await conn.execute(delete(join_intents).where(join_intents.c.issued_at < before))


# --- meeting cards ---------------------------------------------------------------------------


async def card_post(conn: AsyncConnection, meeting_id: int) -> str | None:
    post_id: str | None = await conn.scalar(
        select(meeting_cards.c.post_id).where(meeting_cards.c.meeting_id == meeting_id)
    )
    return post_id


async def save_card(
    conn: AsyncConnection, meeting_id: int, channel_id: str, post_id: str, now: float
) -> None:
    values = {
        "meeting_id": meeting_id,
        "channel_id": channel_id,
        "post_id": post_id,
        "created_at": now,
    }
    await upsert(conn, meeting_cards, values, key=["meeting_id"], update=())


# --- ringing ---------------------------------------------------------------------------------

RINGING, ANSWERED, IGNORED, MISSED = "ringing", "answered", "ignored", "missed"


@dataclass(frozen=True, slots=True)
class Ring:
    id: int
    meeting_id: int
    channel_id: ChannelId
    caller_id: UserId | None
    callee_id: UserId
    post_id: str | None
    state: str
    expires_at: float


def _ring(row: Any) -> Ring:
    return Ring(
        row.id,
        row.meeting_id,
        ChannelId(row.channel_id),
        UserId(row.caller_id) if row.caller_id else None,
        UserId(row.callee_id),
        row.post_id,
        row.state,
        row.expires_at,
    )


async def start_ring(
    conn: AsyncConnection,
    meeting_id: int,
    channel_id: ChannelId,
    caller_id: UserId | None,
    callee_id: UserId,
    expires_at: float,
    now: float,
) -> None:
    values = {
        "meeting_id": meeting_id,
        "channel_id": channel_id,
        "caller_id": caller_id,
        "callee_id": callee_id,
        "state": RINGING,
        "expires_at": expires_at,
        "updated_at": now,
    }
    await upsert(conn, ringing, values, key=["meeting_id", "callee_id"], update=())


async def get_ring(conn: AsyncConnection, ring_id: int) -> Ring | None:
    row = (await conn.execute(select(ringing).where(ringing.c.id == ring_id))).first()
    return None if row is None else _ring(row)


async def ringing_for(conn: AsyncConnection, callee_id: UserId, now: float) -> list[Ring]:
    """The calls ringing for one user now."""
    rows = await conn.execute(
        select(ringing)
        .where(ringing.c.callee_id == callee_id)
        .where(ringing.c.state == RINGING)
        .where(ringing.c.expires_at > now)
        .order_by(ringing.c.id)
    )
    return [_ring(row) for row in rows]


async def rings_of(conn: AsyncConnection, meeting_id: int) -> list[Ring]:
    rows = await conn.execute(
        select(ringing).where(ringing.c.meeting_id == meeting_id).order_by(ringing.c.id)
    )
    return [_ring(row) for row in rows]


async def set_ring_state(
    conn: AsyncConnection, ring_id: int, state: str, now: float, only_if: str | None = RINGING
) -> bool:
    """Move a ring to ``state``; with ``only_if`` only from that state. Returns whether it moved."""
    statement = update(ringing).where(ringing.c.id == ring_id)
    if only_if is not None:
        statement = statement.where(ringing.c.state == only_if)
    result = await conn.execute(statement.values(state=state, updated_at=now))
    return bool(result.rowcount)


async def set_ring_post(conn: AsyncConnection, ring_id: int, post_id: str, now: float) -> None:
    await conn.execute(
        update(ringing).where(ringing.c.id == ring_id).values(post_id=post_id, updated_at=now)
    )


# --- custom status back-ups ------------------------------------------------------------------


async def status_backup(conn: AsyncConnection, user_id: str) -> tuple[bool, Any]:
    """(whether meetbridge set the user's status, what it replaced)."""
    row = (
        await conn.execute(select(status_backups).where(status_backups.c.user_id == user_id))
    ).first()
    return (False, None) if row is None else (True, row.previous)


async def save_status_backup(
    conn: AsyncConnection, user_id: str, previous: Any, now: float
) -> None:
    values = {"user_id": user_id, "previous": previous, "updated_at": now}
    await upsert(conn, status_backups, values, key=["user_id"])


async def drop_status_backup(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(delete(status_backups).where(status_backups.c.user_id == user_id))


async def meeting_of_card(conn: AsyncConnection, post_id: str) -> int | None:
    """The meeting whose card is ``post_id`` (a reply in its thread belongs to it)."""
    meeting_id: int | None = await conn.scalar(
        select(meeting_cards.c.meeting_id).where(meeting_cards.c.post_id == post_id)
    )
    return meeting_id
