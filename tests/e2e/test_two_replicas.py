"""Two replicas on one PostgreSQL behind haproxy; one is killed with SIGKILL mid-burst.

Conferencing Nodes send their events through the load balancer (one at a time per node,
retried until a 2xx, as Infinity does). Either both replicas take intake, or replica B only
applies events (MEETBRIDGE_APPLIER_PRIORITY=high, no traffic). The replica that leads the
applier is killed in the middle of the burst and not started again; the other takes the lead
and carries on. Then every event was applied exactly once, the meetings hold exactly what the
events describe, each meeting's card was posted to Mattermost once (the outbox of a dead replica
is taken over, not repeated), and no outbox item is left waiting or dead.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import func, select

from meetbridge.store import meetings_repo
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox, outbox
from tests.e2e.test_crash_recovery_busy import node_events
from tests.support.backlog import pending_work
from tests.support.haproxy import HaproxyBalancer, find_haproxy
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.mattermost_http import ChatWrites, serve_standin
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.requirements import require
from tests.support.service_process import ServiceProcess

NODES = 4
LEASE = 2.0  # seconds a dead replica's outbox claims hold (MEETBRIDGE_OUTBOX_LEASE)

pytestmark = pytest.mark.slow


@pytest.fixture
def haproxy() -> str:
    binary = find_haproxy()
    require(binary is not None, "haproxy (scripts/install-system-deps.sh haproxy)")
    assert binary is not None
    return binary


@dataclass
class Replicas:
    a: ServiceProcess
    b: ServiceProcess
    b_takes_traffic: bool
    standin: MattermostStandIn
    writes: ChatWrites


@pytest.fixture(params=["both take traffic", "B only applies"])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer
) -> Iterator[Replicas]:
    """Replicas A and B on one PostgreSQL. With "B only applies", B is of high applier
    priority and the balancer sends it nothing: an applier of its own."""
    database_url = postgres_server.create_database(f"replicas_{time.monotonic_ns()}")
    standin, writes = MattermostStandIn(), ChatWrites()
    mattermost_port = free_port()
    server = serve_standin(standin, mattermost_port, writes)
    env = {
        "MEETBRIDGE_MATTERMOST_URL": f"http://127.0.0.1:{mattermost_port}",
        "MEETBRIDGE_MATTERMOST_TOKEN": "replicas",
        # One key for both: the secrets they share are sealed with it.
        "MEETBRIDGE_SECRET_KEY": base64.b64encode(bytes(range(32))).decode(),
        "MEETBRIDGE_LOG_LEVEL": "warning",
        "MEETBRIDGE_OUTBOX_LEASE": str(LEASE),
    }
    a = ServiceProcess(tmp_path / "a", database_url, **env)
    only_applies = request.param == "B only applies"
    b = ServiceProcess(
        tmp_path / "b",
        database_url,
        **env,
        **({"MEETBRIDGE_APPLIER_PRIORITY": "high"} if only_applies else {}),
    )

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a.cli("migrate")
    a.start()
    b.start()
    try:
        yield Replicas(a, b, not only_applies, standin, writes)
    finally:
        a.stop()
        b.stop()
        server.shutdown()
        server.server_close()


async def settle(database_url: str, timeout: float = LEASE + 30.0) -> None:
    """Until every event is applied and every outbox item delivered. An item the killed replica
    had claimed waits for its lease to run out before the other takes it over."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pending_work(database_url) == (0, 0):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"still pending after {timeout}s: {await pending_work(database_url)}")


async def leads(http: httpx2.AsyncClient, replica: ServiceProcess) -> bool:
    """Whether the replica applies events, as its /metrics says."""
    metrics = (await http.get(f"{replica.url}/metrics")).text
    return "meetbridge_applier_leading 1.0" in metrics.splitlines()


async def until_leads(
    http: httpx2.AsyncClient, replica: ServiceProcess, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await leads(http, replica):
        assert time.monotonic() < deadline, "the replica did not take the lead"
        await asyncio.sleep(0.1)


async def leader_first(
    http: httpx2.AsyncClient, a: ServiceProcess, b: ServiceProcess
) -> tuple[ServiceProcess, ServiceProcess]:
    """(the replica that leads the applier, the other); exactly one leads."""
    a_leads, b_leads = await leads(http, a), await leads(http, b)
    assert a_leads != b_leads, f"replica A leads: {a_leads}, replica B leads: {b_leads}"
    return (a, b) if a_leads else (b, a)


async def test_kill_9_of_one_replica_mid_burst_applies_and_posts_everything_once(
    replicas: Replicas, haproxy: str
) -> None:
    a, b, standin, writes = replicas.a, replicas.b, replicas.standin, replicas.writes
    database_url = a.env["MEETBRIDGE_DATABASE_URL"]
    channels = [f"repl{n}" + "r" * 21 for n in range(NODES)]
    for channel in channels:
        template = standin.channels[standin.add_channel(f"Replicas {channel[:5]}")]
        standin.channels[channel] = {**template, "id": channel}
    nodes = [InfinityNode(f"10.18.0.{n}") for n in range(NODES)]
    plans = [
        node_events(node, c, n) for n, (node, c) in enumerate(zip(nodes, channels, strict=True))
    ]
    streams = [events for events, _ in plans]
    auth = basic_auth(*a.credentials())
    backends = [a.port, b.port] if replicas.b_takes_traffic else [a.port]
    with HaproxyBalancer(haproxy, backends) as balancer:
        async with httpx2.AsyncClient(timeout=5.0) as http:
            if not replicas.b_takes_traffic:
                await until_leads(http, b)  # taken over from A, which started first
            publishers = [
                SinkPublisher(http, f"{balancer.url}/api/pexip/event_sink", auth, retry_delay=0.05)
                for _ in nodes
            ]
            deliveries = [
                asyncio.create_task(p.deliver(s)) for p, s in zip(publishers, streams, strict=True)
            ]
            total = sum(len(s) for s in streams)
            while sum(len(p.acknowledged) for p in publishers) < total // 3:
                await asyncio.sleep(0.01)
            leader, survivor = await leader_first(http, a, b)
            leader.kill()
            assert sum(len(p.acknowledged) for p in publishers) < total, (
                "burst over before the kill"
            )
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout=240)
            await settle(database_url)
            assert await leads(http, survivor), "the surviving replica did not take the lead"

    database = open_database(database_url)
    try:
        async with database.read() as conn:
            rows = list(await conn.execute(select(inbox.c.node, inbox.c.seq, inbox.c.outcome)))
            found = {str(m.channel_id): m for m in await meetings_repo.in_progress(conn)}
            dead = await conn.scalar(select(func.count()).where(outbox.c.status == "dead"))
    finally:
        await database.close()
    applied = Counter((node, seq) for node, seq, outcome in rows if outcome == "applied")
    assert set(applied) == {(e["node"], e["seq"]) for s in streams for e in s}
    assert max(applied.values()) == 1, "an event was applied twice"
    for channel, (_, expected) in zip(channels, plans, strict=True):
        assert {u: leg.is_muted for u, leg in found[channel].legs.items()} == expected.present
    cards = {channel: len(writes.posts.get(channel, [])) for channel in channels}
    assert cards == dict.fromkeys(channels, 1), "a meeting card was posted twice (or never)"
    assert dead == 0
