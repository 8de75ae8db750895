"""In-meeting chat of Pexip meetings mirrored with the meeting card's Mattermost thread.

Meeting → thread: Infinity does not report conference messages to the event sink, so while a
channel's Pexip meeting runs, meetbridge listens to the conference's event stream as its
control-only chair (client API ``events``, renewing its token) and sends every
``message_received`` that is not private and not its own to the thread. Thread → meeting: a
reply in the card's thread is sent to the conference (``message``) as "<author>: <text>"; Webapp3
and meetbridge's page show it as a message from meetbridge's participant.

One listener per meeting per process: with several replicas, each mirrors (the outbox key of a
line is the same on every replica for the same message within a second, so the thread gets it
once).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.pexip.client_api import ClientApiError
from meetbridge.engines.pexip.engine import PexipEngine
from meetbridge.ports import EngineUnavailableError

log = structlog.get_logger(__name__)

MAX_CHAT = 4000
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)

ThreadMirror = Callable[[ChannelId, str, str, str], Awaitable[object]]
"""(channel, author's name, text, line id): the line for the meeting's Mattermost thread."""


class PexipChatMirror:
    def __init__(self, engine: PexipEngine, to_thread: ThreadMirror | None, clock: Clock) -> None:
        self._engine = engine
        self._to_thread = to_thread
        self._clock = clock
        self._listeners: dict[ChannelId, asyncio.Task[None]] = {}
        self._closed = False

    def watch(self, channel_id: ChannelId) -> None:
        """Listen to the channel's conference (once; a running listener is left alone)."""
        running = self._listeners.get(channel_id)
        if self._closed or self._to_thread is None or (running is not None and not running.done()):
            return
        self._listeners[channel_id] = asyncio.create_task(self._listen(channel_id))

    def stop(self, channel_id: ChannelId) -> None:
        task = self._listeners.pop(channel_id, None)
        if task is not None:
            task.cancel()

    def watching(self, channel_id: ChannelId) -> bool:
        task = self._listeners.get(channel_id)
        return task is not None and not task.done()

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._listeners.values())
        self._listeners.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self, channel_id: ChannelId) -> None:
        failures = 0
        while await self._engine.meeting(channel_id) is not None:
            keeper = asyncio.create_task(self._keep_alive(channel_id))
            try:
                async for event, data in self._engine.events(channel_id):
                    failures = 0
                    if event == "message_received" and isinstance(data, dict):
                        await self._mirror(channel_id, data)
            except (ClientApiError, EngineUnavailableError) as exc:
                log.info("pexip.chat_stream_lost", channel_id=channel_id, error=str(exc))
            finally:
                await _stop_keeper(keeper)
            await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])
            failures += 1

    async def _keep_alive(self, channel_id: ChannelId) -> None:
        """Renew the chair token while the stream is open (cancelled when it closes)."""
        delay = await self._engine.keep_alive(channel_id)
        for _ in range(100_000):  # bounded: a day of renewals at the shortest lifetime
            await asyncio.sleep(delay)
            delay = await self._engine.keep_alive(channel_id)

    async def _mirror(self, channel_id: ChannelId, data: Mapping[str, Any]) -> None:
        sender, text, name = data.get("uuid"), data.get("payload"), data.get("origin")
        if data.get("direct") or not isinstance(text, str) or not text.strip():
            return  # a private message (e.g. a host's "ask to unmute") stays private
        if sender == self._engine.own_participant(channel_id):
            return  # a thread reply meetbridge itself sent
        assert self._to_thread is not None
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        key = f"px-{str(sender)[:40]}-{int(self._clock.now())}-{digest}"
        author = name if isinstance(name, str) and name.strip() else "Someone"
        await self._to_thread(channel_id, author[:64], text[:MAX_CHAT], key)

    async def from_thread(
        self, channel_id: ChannelId, name: str, text: str, line_id: str, at: int
    ) -> None:
        """A reply in the card's thread, sent to the channel's Pexip meeting (if one runs)."""
        if await self._engine.meeting(channel_id) is None:
            return
        message = {"type": "text/plain", "payload": f"{name}: {text}"[:MAX_CHAT]}
        try:
            await self._engine.act(channel_id, "message", message)
        except (ClientApiError, EngineUnavailableError) as exc:
            log.warning("pexip.chat_to_meeting_failed", channel_id=channel_id, error=str(exc))


async def _stop_keeper(keeper: asyncio.Task[None]) -> None:
    """Cancel the token keeper and wait for it, without swallowing a cancellation meant for
    the listener itself (``await keeper`` under suppress(CancelledError) did: shutdown hung)."""
    keeper.cancel()
    await asyncio.wait([keeper])
    if not keeper.cancelled() and keeper.exception() is not None:
        log.info("pexip.chat_keeper_failed", error=str(keeper.exception()))
