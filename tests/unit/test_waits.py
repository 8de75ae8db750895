"""A loop waiting on an event stops when cancelled, even as the event is set."""

from __future__ import annotations

import asyncio

import pytest

from meetbridge.waits import wait_event


async def waiting_loop(wakeup: asyncio.Event, rounds: list[int]) -> None:
    """A background loop's shape: wait for a wake-up (or the poll interval), work, repeat."""
    while True:
        await wait_event(wakeup, 1.0)
        wakeup.clear()
        rounds.append(1)


async def test_a_cancellation_arriving_as_the_event_is_set_stops_the_waiting_loop() -> None:
    for _ in range(20):
        wakeup, rounds = asyncio.Event(), list[int]()
        task = asyncio.create_task(waiting_loop(wakeup, rounds))
        await asyncio.sleep(0)
        wakeup.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 2.0)  # asyncio.wait_for in the loop: TimeoutError here
        assert rounds == []


async def test_it_says_whether_the_event_was_set_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 1.0) is True
