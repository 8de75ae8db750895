"""Shutting down stops the Pexip chat listeners, whatever they are doing at that moment.

Seen as a test suite hanging in teardown (no CPU, for ever): a listener cancelled while it
waited for its token keeper to wind down swallowed its own cancellation and kept listening.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from meetbridge.clock import SystemClock
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.pexip.chat import PexipChatMirror
from meetbridge.engines.pexip.client_api import ClientApiError
from meetbridge.engines.pexip.engine import PexipEngine

CHANNEL = ChannelId("c" * 26)


class NodeThatDropsTheStream:
    """A meeting in progress whose event stream fails once the token keeper runs; the keeper
    takes a moment to wind down when cancelled, as a renewal in flight does."""

    def __init__(self) -> None:
        self.keeper_running = asyncio.Event()
        self.keeper_winding_down = asyncio.Event()

    async def meeting(self, channel_id: ChannelId) -> object:
        return object()

    async def events(self, channel_id: ChannelId) -> AsyncIterator[tuple[str, Any]]:
        await self.keeper_running.wait()
        if self.keeper_running.is_set():
            raise ClientApiError(0, "the stream dropped")
        yield ("never", None)  # an async generator, like the real one

    async def keep_alive(self, channel_id: ChannelId) -> float:
        self.keeper_running.set()
        try:
            await asyncio.sleep(3600)
        finally:
            self.keeper_winding_down.set()
            await asyncio.sleep(0.2)
        return 60.0


async def test_closing_while_a_listener_waits_for_its_keeper_stops_it() -> None:
    node = NodeThatDropsTheStream()
    mirror = PexipChatMirror(cast(PexipEngine, node), lambda *line: asyncio.sleep(0), SystemClock())
    mirror.watch(CHANNEL)
    await asyncio.wait_for(node.keeper_winding_down.wait(), 5)

    await asyncio.wait_for(mirror.close(), 5)  # timed out (hung) before the fix

    assert not mirror.watching(CHANNEL)


async def test_a_listener_asked_to_watch_after_closing_is_not_started() -> None:
    node = NodeThatDropsTheStream()
    mirror = PexipChatMirror(cast(PexipEngine, node), lambda *line: asyncio.sleep(0), SystemClock())
    await mirror.close()

    mirror.watch(CHANNEL)

    assert not mirror.watching(CHANNEL)
