"""kill -9 in the middle of an event burst: every acknowledged event is applied exactly once.

meetbridge runs as a real process (``meetbridge serve``). Several simulated Conferencing Nodes
push events as Infinity does (one at a time per node, retrying until a 2xx answer), the service
is killed with SIGKILL while they are at it and started again; the nodes' retries then go through.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from meetbridge.store import meetings_repo
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.service_process import ServiceProcess

NODES = 6
PARTICIPANTS_PER_NODE = 120
CHANNELS = ["a" * 25 + str(i) for i in range(NODES)]

pytestmark = pytest.mark.slow


def node_events(node: InfinityNode, channel: str) -> list[dict[str, Any]]:
    conference, tag = f"matt-{channel}", f"mattermost:{channel}"
    events = [node.sink_started(), node.conference_started(conference, tag)]
    for i in range(PARTICIPANTS_PER_NODE):
        events.append(
            node.participant_connected(conference, tag, uuid=f"{node.ip}-{i}", display_name=f"p{i}")
        )
        if i % 3 == 2:  # every third participant leaves again
            events.append(node.participant_disconnected(conference, tag, f"{node.ip}-{i}"))
    return events


def expected_present() -> dict[str, set[str]]:
    return {
        channel: {f"10.9.0.{n}-{i}" for i in range(PARTICIPANTS_PER_NODE) if i % 3 != 2}
        for n, channel in enumerate(CHANNELS)
    }


async def read_state(database_url: str) -> tuple[list[Any], list[Any]]:
    database = open_database(database_url)
    try:
        async with database.read() as conn:
            rows = list(
                await conn.execute(select(inbox.c.node, inbox.c.seq, inbox.c.body, inbox.c.outcome))
            )
            found = [(m.channel_id, set(m.legs)) for m in await meetings_repo.in_progress(conn)]
    finally:
        await database.close()
    return rows, found


async def wait_drained(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx2.AsyncClient() as http:
        while time.monotonic() < deadline:
            metrics = (await http.get(f"{url}/metrics")).text
            depth = [
                line for line in metrics.splitlines() if line.startswith("meetbridge_inbox_depth ")
            ]
            if depth and float(depth[0].split()[1]) == 0.0:
                return
            await asyncio.sleep(0.2)
    raise AssertionError("inbox never drained")


async def test_kill_9_mid_burst_loses_nothing_and_applies_once(
    tmp_path: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'meetbridge.db'}"
    service = ServiceProcess(tmp_path, database_url)
    service.cli("migrate")
    auth = basic_auth(*service.credentials())
    service.start()
    nodes = [InfinityNode(f"10.9.0.{n}") for n in range(NODES)]
    streams = [node_events(node, channel) for node, channel in zip(nodes, CHANNELS, strict=True)]
    async with httpx2.AsyncClient(timeout=5.0) as http:
        publishers = [
            SinkPublisher(http, f"{service.url}/api/pexip/event_sink", auth, retry_delay=0.05)
            for _ in nodes
        ]
        deliveries = [
            asyncio.create_task(p.deliver(s)) for p, s in zip(publishers, streams, strict=True)
        ]
        total = sum(len(s) for s in streams)
        while sum(len(p.acknowledged) for p in publishers) < total // 3:
            await asyncio.sleep(0.01)
        acknowledged_before_kill = {
            (e["node"], e["seq"]) for p in publishers for e in p.acknowledged
        }
        service.kill()
        assert sum(len(p.acknowledged) for p in publishers) < total, (
            "the burst was over before the kill"
        )
        service.start()
        try:
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout=180)
            await wait_drained(service.url)
        finally:
            service.stop()

    rows, found = await read_state(database_url)
    stored = {(node, seq) for node, seq, _, _ in rows}
    assert acknowledged_before_kill <= stored, "an acknowledged event was lost"
    applied = Counter((node, seq) for node, seq, _, outcome in rows if outcome == "applied")
    every_event = {(e["node"], e["seq"]) for s in streams for e in s}
    assert set(applied) == every_event
    assert max(applied.values()) == 1, "an event was applied twice"
    assert all(outcome in ("applied", "duplicate") for *_, outcome in rows)
    present = dict(found)
    assert present == expected_present()
