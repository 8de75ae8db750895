"""In-meeting chat mirrored into the meeting card's Mattermost thread (page → thread).

The line is posted by the bot, attributed by name; mentions are defused (a participant typing
``@channel`` in the meeting must not notify the channel through the bot)."""

from __future__ import annotations

from collections.abc import Callable

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId
from meetbridge.services import notifications
from meetbridge.store import meetings_repo
from meetbridge.store.database import Database

_ZERO_WIDTH_SPACE = "\u200b"


def thread_line(name: str, text: str) -> str:
    def defused(value: str) -> str:
        return value.replace("@", "@" + _ZERO_WIDTH_SPACE)

    return f"**{defused(name) or 'Someone'}** (in the meeting): {defused(text)}"


class MeetingChat:
    def __init__(self, database: Database, clock: Clock, wake_outbox: Callable[[], None]) -> None:
        self._database = database
        self._clock = clock
        self._wake_outbox = wake_outbox

    async def to_thread(self, channel_id: ChannelId, name: str, text: str, key: str) -> bool:
        """Queue the line for the thread of the channel's meeting; False when none is known."""
        async with self._database.transaction() as conn:
            meeting = await meetings_repo.current_for_channel(conn, channel_id)
            if meeting is None or meeting.id is None:
                return False
            line = thread_line(name, text)
            await notifications.enqueue_meeting_reply(
                conn, meeting.id, line, f"chat:{key}"[:200], self._clock.now()
            )
        self._wake_outbox()
        return True
