"""How many participants a channel's meeting may have, where a channel admin chose it."""

from __future__ import annotations

from meetbridge.domain.ids import ChannelId
from meetbridge.store import channel_limits_repo
from meetbridge.store.database import Database

MAX_LIMIT = 1000


def parse_limit(argument: str) -> int | str | None:
    """``N`` (1..MAX_LIMIT) as an int, ``default`` as None; anything else: "" (not a limit)."""
    text = argument.strip().lower()
    if text == "default":
        return None
    if text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_LIMIT:
        return int(text)
    return ""


class ChannelLimits:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def limit_for(self, channel_id: ChannelId) -> int | None:
        """The channel's own limit, None where it uses the install's."""
        async with self._database.read() as conn:
            return await channel_limits_repo.get(conn, channel_id)

    async def set_limit(self, channel_id: ChannelId, limit: int | None) -> None:
        async with self._database.transaction() as conn:
            await channel_limits_repo.put(conn, channel_id, limit)
