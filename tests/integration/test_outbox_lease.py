"""Outbox claims are short leases: a dead replica's items are taken over in seconds, a live
worker's slow delivery stays its own, and a claimant that lost its lease cannot finish an item.

On SQLite and PostgreSQL. The worker tests use a lease of a fraction of a second and the real
clock, so the heartbeat really has to renew in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from meetbridge.config import ServiceConfig
from meetbridge.ports import ChatPlatform
from meetbridge.store import outbox_repo
from meetbridge.store.database import Database
from meetbridge.store.tables import outbox
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.support.mattermost_standin import MattermostStandIn

LEASE = 0.6
SLOW = "test.slow"


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> AsyncIterator[RunningApp]:
    short = config.model_copy(update={"outbox_lease": LEASE})
    app = create_app(
        short, mattermost_transport=mattermost.transport(), auto_migrate=True, background=False
    )
    async with running(app) as running_app:
        yield running_app


async def _row(database: Database, item_id: int) -> Any:
    async with database.read() as conn:
        return (await conn.execute(select(outbox).where(outbox.c.id == item_id))).one()


async def _enqueue(database: Database, key: str, at: float) -> None:
    async with database.transaction() as conn:
        await outbox_repo.enqueue(conn, SLOW, {"key": key}, at, key)


async def _claim_as_other_replica(database: Database, lease: float = LEASE) -> list[Any]:
    async with database.transaction() as conn:
        return await outbox_repo.claim(conn, time.time(), 10, lease)


async def test_an_item_is_claimable_by_another_worker_only_once_its_lease_ran_out(
    service: RunningApp,
) -> None:
    database, now = service.components.core.database, 1_800_000_000.0
    await _enqueue(database, "card:1", now)
    async with database.transaction() as conn:
        (first,) = await outbox_repo.claim(conn, now, 10, lease=15.0)
        assert await outbox_repo.claim(conn, now + 14.0, 10, lease=15.0) == []
        (second,) = await outbox_repo.claim(conn, now + 15.5, 10, lease=15.0)
    assert second.id == first.id and (first.attempts, second.attempts) == (1, 2)


async def test_a_stale_claimant_can_neither_complete_nor_retry_nor_bury_an_item(
    service: RunningApp,
) -> None:
    database, now = service.components.core.database, 1_800_000_000.0
    await _enqueue(database, "card:1", now)
    async with database.transaction() as conn:
        (stale,) = await outbox_repo.claim(conn, now, 10, lease=15.0)
        (current,) = await outbox_repo.claim(conn, now + 16.0, 10, lease=15.0)
        assert not await outbox_repo.complete(conn, [stale], now + 17.0)
        assert not await outbox_repo.retry_later(conn, stale, now + 17.0, 5.0, "timed out")
        assert not await outbox_repo.give_up(conn, stale, now + 17.0, "refused")
        assert await outbox_repo.renew(conn, [stale], now + 17.0, 15.0) == set()
    row = await _row(database, current.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("running", 2, now + 31.0)
    async with database.transaction() as conn:
        assert await outbox_repo.complete(conn, [current], now + 18.0) == {current.id}
    assert (await _row(database, current.id)).status == "done"


async def test_renewal_keeps_a_slow_delivery_and_the_rest_of_its_batch_owned(
    service: RunningApp,
) -> None:
    database, worker = service.components.core.database, service.components.chat.outbox
    release, delivered = asyncio.Event(), list[str]()

    async def deliver(platform: ChatPlatform, payload: dict[str, Any]) -> None:
        if payload["key"] == "slow":
            await release.wait()
        delivered.append(payload["key"])

    worker.register(SLOW, deliver)
    await _enqueue(database, "slow", time.time())
    await _enqueue(database, "behind", time.time())
    batch = asyncio.create_task(worker.process_due())
    for _ in range(8):  # 2.4 s: four leases
        await asyncio.sleep(LEASE / 2)
        assert await _claim_as_other_replica(database) == [], "a live worker's item was taken"
    release.set()
    assert await batch == 2
    assert delivered == ["slow", "behind"]
    async with database.read() as conn:
        rows = list(await conn.execute(select(outbox.c.status, outbox.c.attempts)))
    assert sorted(rows) == [("done", 1), ("done", 1)]


async def test_a_worker_takes_over_a_dead_replicas_item_once_the_short_lease_ran_out(
    service: RunningApp,
) -> None:
    database, worker = service.components.core.database, service.components.chat.outbox
    delivered: list[str] = []

    async def deliver(platform: ChatPlatform, payload: dict[str, Any]) -> None:
        delivered.append(payload["key"])

    worker.register(SLOW, deliver)
    await _enqueue(database, "card:1", time.time())
    (claimed,) = await _claim_as_other_replica(database)  # ... which is then killed
    assert await worker.process_due() == 0
    await asyncio.sleep(LEASE + 0.1)
    assert await worker.process_due() == 1
    assert delivered == ["card:1"]
    assert (await _row(database, claimed.id)).status == "done"


async def test_a_worker_that_lost_its_claim_mid_delivery_does_not_complete_the_item(
    service: RunningApp,
) -> None:
    database, worker = service.components.core.database, service.components.chat.outbox
    taken_over: list[Any] = []

    async def deliver(platform: ChatPlatform, payload: dict[str, Any]) -> None:
        # As if this worker froze past its lease (SIGSTOP, a stalled host) mid-delivery:
        # the lease ran out and another replica claimed the item.
        async with database.transaction() as conn:
            await conn.execute(update(outbox).values(next_attempt_at=time.time() - 1))
        taken_over.extend(await _claim_as_other_replica(database, lease=60.0))

    worker.register(SLOW, deliver)
    await _enqueue(database, "card:1", time.time())
    assert await worker.process_due() == 1
    (other,) = taken_over
    row = await _row(database, other.id)
    assert (row.status, row.attempts) == ("running", 2), "the stale claimant finished the item"


async def test_a_worker_stopped_mid_batch_hands_its_claim_back_at_once(
    service: RunningApp,
) -> None:
    """SIGTERM cancels the worker: what it delivered is done, and the item it was sending and
    the ones behind it are due again now, not when the lease runs out."""
    database, worker = service.components.core.database, service.components.chat.outbox
    sending, delivered = asyncio.Event(), list[str]()

    async def deliver(platform: ChatPlatform, payload: dict[str, Any]) -> None:
        if payload["key"] == "hangs":
            sending.set()
            await asyncio.Event().wait()  # Mattermost never answers
        delivered.append(payload["key"])

    worker.register(SLOW, deliver)
    for key in ("first", "hangs", "behind"):
        await _enqueue(database, key, time.time())
    batch = asyncio.create_task(worker.process_due())
    await sending.wait()
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    async with database.read() as conn:
        rows = {
            r.payload["key"]: r
            for r in await conn.execute(
                select(outbox.c.payload, outbox.c.status, outbox.c.next_attempt_at)
            )
        }
    assert delivered == ["first"]
    assert rows["first"].status == "done"
    for key in ("hangs", "behind"):
        assert rows[key].status == "pending"
        assert rows[key].next_attempt_at <= time.time()
    taken = await _claim_as_other_replica(database)
    assert sorted(item.payload["key"] for item in taken) == ["behind", "hangs"]
