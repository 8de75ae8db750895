"""Someone who no longer belongs to a channel leaves its meeting in progress (issue 20).

A member's join link and control token were issued while they belonged to the channel; the
token lives as long as the meeting. When they are removed from the channel (a private channel's
admin removes them, they leave) they must not go on hearing the meeting, chatting into its card's
thread or starting a recording posted there. meetbridge takes them out of the meeting:

* at once, when Mattermost's WebSocket reports ``user_removed`` for that channel (the bot hears
  it for channels it belongs to);
* every minute otherwise (``sweep``), from the membership cache (which the WebSocket keeps fresh
  and which expires after a minute), so a missed event costs at most about two minutes.

Their control calls are refused meanwhile (services/page_guard.py), and the engine refuses them
again if they try to come back (LiveKit's admission check, Pexip's participant-properties answer).
A membership Mattermost cannot confirm right now is never taken for a departure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.ports import Engines, EngineUnavailableError, HostControls, MembershipDirectory
from meetbridge.services.page_guard import still_member
from meetbridge.store import meetings_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

SWEEP_INTERVAL = 60.0


class MembershipWatch:
    def __init__(self, database: Database, members: MembershipDirectory, engines: Engines) -> None:
        self._database = database
        self._members = members
        self._engines = engines
        self._pending: set[asyncio.Task[int]] = set()

    def lost(self, channel_id: ChannelId, user_id: UserId) -> None:
        """Mattermost says the user left the channel (the WebSocket's listener is synchronous:
        the check runs in a task of its own)."""
        task = asyncio.create_task(self.check(channel_id, [user_id]))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[int]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("membership.check_failed", error=str(task.exception()))

    async def settle(self) -> None:
        """Wait for the checks ``lost`` started (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def check(self, channel_id: ChannelId, users: Iterable[UserId] | None = None) -> int:
        """Take out of the channel's meeting in progress those of ``users`` (everyone in it,
        by default) who no longer belong to the channel; how many devices left."""
        async with self._database.read() as conn:
            meeting = await meetings_repo.current_for_channel(conn, channel_id, attendance=False)
            engine = await self._engine_of(conn, meeting)
        if meeting is None or engine is None:
            return 0
        present = await engine.present_users(channel_id)
        wanted = present if users is None else [u for u in users if u in present]
        removed = 0
        for user in wanted:
            if not await still_member(self._members, channel_id, user):
                removed += await engine.remove_user(channel_id, user)
                log.info("membership.removed_from_meeting", channel_id=channel_id)
        return removed

    async def sweep(self) -> int:
        """Every meeting in progress, everyone in it; how many devices left."""
        async with self._database.read() as conn:
            meetings = await meetings_repo.in_progress(conn, attendance=False)
        removed = 0
        for meeting in meetings:
            try:
                removed += await self.check(meeting.channel_id)
            except EngineUnavailableError as exc:
                log.info("membership.sweep_skipped", channel_id=meeting.channel_id, error=str(exc))
        return removed

    async def run(self, interval: float = SWEEP_INTERVAL) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("membership.sweep_failed")

    async def _engine_of(
        self, conn: AsyncConnection, meeting: Meeting | None
    ) -> HostControls | None:
        if meeting is None or meeting.id is None:
            return None
        name = await meetings_repo.engine_of(conn, meeting.id)
        engine: object = self._engines.engine(name) if name else None
        return engine if isinstance(engine, HostControls) else None
