"""Per-channel participant limits set by channel admins (``/meet max``).

Kept as rows of the deployment key-value table (``channel_max_participants:<channel id>``), so
the feature needs no schema change; a dedicated table can replace it when limits grow options.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId
from meetbridge.store import deployment_repo
from meetbridge.store.tables import deployment

PREFIX = "channel_max_participants:"


def _key(channel_id: ChannelId) -> str:
    return f"{PREFIX}{channel_id}"


async def get(conn: AsyncConnection, channel_id: ChannelId) -> int | None:
    stored = await deployment_repo.get(conn, _key(channel_id))
    return int(stored) if stored is not None and stored.isdigit() else None


async def put(conn: AsyncConnection, channel_id: ChannelId, limit: int | None) -> None:
    """Set the channel's limit; None goes back to the install's."""
    if limit is None:
        await conn.execute(delete(deployment).where(deployment.c.key == _key(channel_id)))
    else:
        await deployment_repo.put(conn, _key(channel_id), str(limit))
