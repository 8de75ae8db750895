"""Replicas on one PostgreSQL: one leads the applier, the others take intake only.

Two replicas run with their background workers, as two processes behind a load balancer do.
Exactly one of them applies events, including those the other took in (a NOTIFY sent with the
inbox rows wakes it); when the leader's database session ends, the other takes the lead and
applies what is waiting. A replica of high priority takes the lead from a normal one, and gives
it back by going away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text

from meetbridge.config import ServiceConfig
from meetbridge.store.applier_leadership import LEADER_LOCK, ApplierLeadership
from meetbridge.store.database import open_database
from meetbridge.store.inbox import InboxRecord, InboxWriter
from meetbridge.store.migrate import upgrade
from meetbridge.web.app import MeetbridgeApp, create_app
from tests.conftest import RunningApp, running
from tests.integration.conftest import alias, post_events, tag
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.postgres import PostgresServer

CHANNEL = "l3f9q1x7ab8cd2ef4gh6ij8kl0"


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """PostgreSQL only: several replicas on SQLite are not supported."""
    return postgres_server.create_database(f"leadership_{time.monotonic_ns()}")


@pytest.fixture
async def replicas(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> AsyncIterator[tuple[RunningApp, RunningApp]]:
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            app = replica_app(config, mattermost)
            started.append(await stack.enter_async_context(running(app)))
        yield started[0], started[1]


def leading(replica: RunningApp) -> bool:
    leadership = replica.components.leadership
    assert leadership is not None, "a PostgreSQL replica has a leadership"
    return bool(leadership.leading)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def applied_count(replica: RunningApp) -> float:
    return sum(
        float(sample.value)
        for metric in replica.components.metrics.events_applied.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def send_meeting(replica: RunningApp, node: InfinityNode) -> None:
    await post_events(
        replica, node.sink_started(), node.conference_started(alias(CHANNEL), tag(CHANNEL))
    )


async def test_exactly_one_replica_leads_and_applies_what_the_other_took_in(
    replicas: tuple[RunningApp, RunningApp],
) -> None:
    a, b = replicas
    await until(lambda: leading(a) or leading(b))
    leader, follower = (a, b) if leading(a) else (b, a)
    assert not leading(follower)

    await send_meeting(follower, InfinityNode("10.19.0.1"))
    await until(lambda: applied_count(leader) >= 2)

    assert applied_count(follower) == 0, "the replica that does not lead applied events"
    await asyncio.sleep(1.5)  # the follower tries to take the lead once a second
    assert leading(leader) and not leading(follower)


async def test_when_the_leaders_session_ends_the_other_replica_leads_and_applies(
    replicas: tuple[RunningApp, RunningApp], config: ServiceConfig
) -> None:
    a, b = replicas
    await until(lambda: leading(a) or leading(b))
    leader, follower = (a, b) if leading(a) else (b, a)

    # The leader's database session dies, as it does when its process is killed.
    database = open_database(config.database_url)
    try:
        async with database.transaction() as conn:
            ended = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": LEADER_LOCK},
            )
    finally:
        await database.close()
    assert ended == 1
    await until(lambda: leading(follower))

    await send_meeting(leader, InfinityNode("10.19.0.2"))
    await until(lambda: applied_count(follower) >= 2)
    await until(lambda: not leading(leader))  # the old leader noticed its session was gone


async def test_inbox_commits_on_another_replica_wake_the_leader(
    config: ServiceConfig,
) -> None:
    leader_db = open_database(config.database_url)
    intake_db = open_database(config.database_url)
    woken = asyncio.Event()
    leadership = ApplierLeadership(leader_db, on_inbox=woken.set)
    writer = InboxWriter(intake_db)
    try:
        await upgrade(leader_db)
        assert await leadership.holds()
        woken.clear()  # taking the lead wakes the applier once by itself
        await writer.start()
        await writer.append([InboxRecord("pexip", "10.19.0.3", 1, "participant_connected",
                                         time.time(), "{}")])  # fmt: skip
        await asyncio.wait_for(woken.wait(), timeout=10.0)
    finally:
        await writer.stop()
        await leadership.release()
        await leader_db.close()
        await intake_db.close()


async def test_a_high_priority_replica_takes_the_lead_and_gives_it_back_when_it_goes(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> None:
    async with AsyncExitStack() as stack:
        normal = await stack.enter_async_context(running(replica_app(config, mattermost)))
        await until(lambda: leading(normal))
        high_config = config.model_copy(update={"applier_priority": "high"})
        high_app = replica_app(high_config, mattermost)
        async with running(high_app) as high:
            await until(lambda: leading(high) and not leading(normal))

            await send_meeting(normal, InfinityNode("10.19.0.4"))
            await until(lambda: applied_count(high) >= 2)
            await asyncio.sleep(2.5)  # the normal replica looks for the lead once a second
            assert not leading(normal), "a normal replica took the lead from a high-priority one"
            assert applied_count(normal) == 0
        # The high-priority replica has stopped: its session and its candidacy are gone.
        await until(lambda: leading(normal))
        await send_meeting(normal, InfinityNode("10.19.0.5"))
        await until(lambda: applied_count(normal) >= 2)


def replica_app(config: ServiceConfig, mattermost: MattermostStandIn) -> MeetbridgeApp:
    return create_app(config, mattermost_transport=mattermost.transport(), auto_migrate=True)
