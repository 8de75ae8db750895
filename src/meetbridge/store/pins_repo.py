"""Per-channel meeting PINs, sealed with AES-GCM at rest."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.crypto import SecretBox
from meetbridge.domain.ids import ChannelId
from meetbridge.domain.pins import ChannelPins, new_channel_pins, new_guest_pin
from meetbridge.store import revisions
from meetbridge.store.sql import upsert
from meetbridge.store.tables import channel_pins

TOPIC = "pins"


def _associated(channel_id: ChannelId) -> str:
    return f"channel_pins:{channel_id}"


def _seal(box: SecretBox, channel_id: ChannelId, pins: ChannelPins) -> bytes:
    plain = orjson.dumps({"host": pins.host_pin, "guest": pins.guest_pin}).decode()
    return box.encrypt(plain, _associated(channel_id))


def _open(box: SecretBox, channel_id: ChannelId, sealed: bytes) -> ChannelPins:
    values = orjson.loads(box.decrypt(sealed, _associated(channel_id)))
    return ChannelPins(host_pin=values["host"], guest_pin=values["guest"])


async def get(conn: AsyncConnection, box: SecretBox, channel_id: ChannelId) -> ChannelPins | None:
    sealed = await conn.scalar(
        select(channel_pins.c.pins_sealed).where(channel_pins.c.channel_id == channel_id)
    )
    return None if sealed is None else _open(box, channel_id, sealed)


async def get_or_create(
    conn: AsyncConnection, box: SecretBox, channel_id: ChannelId, now: float
) -> ChannelPins:
    """The channel's PINs, creating them on first use. Concurrent callers agree on one set."""
    existing = await get(conn, box, channel_id)
    if existing is not None:
        return existing
    pins = new_channel_pins()
    values = {
        "channel_id": channel_id,
        "pins_sealed": _seal(box, channel_id, pins),
        "created_at": now,
    }
    await upsert(conn, channel_pins, values, key=["channel_id"], update=())
    stored = await get(conn, box, channel_id)
    assert stored is not None  # inserted above, or by whoever won the race
    return stored


async def replace_guest_pin(
    conn: AsyncConnection, box: SecretBox, channel_id: ChannelId, now: float
) -> None:
    """A new guest PIN for the channel (a guest link was revoked): the host PIN stays, so
    meetbridge's own chair session in a running meeting goes on."""
    current = await get_or_create(conn, box, channel_id, now)
    fresh = new_guest_pin(current.host_pin, current.guest_pin)
    values = {
        "channel_id": channel_id,
        "pins_sealed": _seal(box, channel_id, fresh),
        "created_at": now,
    }
    await upsert(conn, channel_pins, values, key=["channel_id"])
    await revisions.bump(conn, TOPIC)


async def rotate(conn: AsyncConnection, box: SecretBox, channel_id: ChannelId, now: float) -> None:
    """Give the channel fresh PINs: run after each meeting so old join details stop working."""
    pins = new_channel_pins()
    values = {
        "channel_id": channel_id,
        "pins_sealed": _seal(box, channel_id, pins),
        "created_at": now,
    }
    await upsert(conn, channel_pins, values, key=["channel_id"])
    await revisions.bump(conn, TOPIC)
