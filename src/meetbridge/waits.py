"""Waiting for an asyncio event with a time limit, without losing a cancellation.

Before Python 3.12, ``asyncio.wait_for`` returns normally when the task is cancelled just as
the awaited event is set, so a background loop built on it could survive its own cancellation
and hang shutdown (seen in CI: a transcription pool that never stopped).
``asyncio.timeout`` tells its own expiry apart from a cancellation from outside.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it was set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
