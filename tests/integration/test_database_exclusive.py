"""Database.exclusive: blocks holding one key take turns, across replicas on PostgreSQL (two
engines here, as two processes would have) and within the one process on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from meetbridge.store.database import Database, open_database

KEY = 0x6D62_7465  # "mbte"
OTHER_KEY = KEY + 1
WAIT = 0.3  # long enough for a holder that is not held back to get in


@pytest.fixture
async def holders(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two replicas' databases on PostgreSQL; SQLite has one process, so one Database."""
    first = open_database(database_url)
    second = first if first.is_sqlite else open_database(database_url)
    yield first, second
    await first.close()
    await second.close()


async def hold_until(
    database: Database, key: int, inside: asyncio.Event, leave: asyncio.Event
) -> None:
    async with database.exclusive(key):
        inside.set()
        await leave.wait()


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_second_holder_of_the_same_key_waits_until_the_first_leaves(
    holders: tuple[Database, Database],
) -> None:
    first, second = holders
    first_inside, first_leaves, second_inside = asyncio.Event(), asyncio.Event(), asyncio.Event()
    holding = asyncio.create_task(hold_until(first, KEY, first_inside, first_leaves))
    await first_inside.wait()
    waiting = asyncio.create_task(hold_until(second, KEY, second_inside, asyncio.Event()))
    await asyncio.sleep(WAIT)
    assert not second_inside.is_set(), "both held the key at once"

    first_leaves.set()
    await holding
    await asyncio.wait_for(second_inside.wait(), 10)
    await stop(waiting)


async def test_other_keys_do_not_wait(holders: tuple[Database, Database]) -> None:
    first, second = holders
    first_inside, first_leaves, second_inside = asyncio.Event(), asyncio.Event(), asyncio.Event()
    holding = asyncio.create_task(hold_until(first, KEY, first_inside, first_leaves))
    await first_inside.wait()
    other = asyncio.create_task(hold_until(second, OTHER_KEY, second_inside, asyncio.Event()))
    await asyncio.wait_for(second_inside.wait(), 10)
    await stop(other)
    first_leaves.set()
    await holding


async def test_a_block_that_fails_lets_the_next_holder_in(
    holders: tuple[Database, Database],
) -> None:
    first, second = holders
    with pytest.raises(RuntimeError):
        async with first.exclusive(KEY):
            raise RuntimeError("setup failed")
    async with asyncio.timeout(10), second.exclusive(KEY):
        pass
