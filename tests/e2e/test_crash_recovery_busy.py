"""kill -9 while meetings in progress are busy: their rows come back exactly as the events say.

Meeting state is kept in the applier's memory between batches and written as the legs and
attendees that changed. This proves that a kill loses nothing of it: nodes host meetings that
are already large when the burst starts; during the burst people join, leave and change (mute),
the service is killed with SIGKILL and started again, and the nodes' retries go through. Then
the stored legs, mute states, attendance and counts are exactly those the events describe, and
every event was applied once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from meetbridge.domain.meetings import Meeting
from meetbridge.store import meetings_repo
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox, meetings
from tests.e2e.test_crash_recovery import wait_drained
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.service_process import ServiceProcess

NODES = 4
ALREADY_THERE = 150  # people in each meeting before the burst
BURST = 300  # events per node during the burst: 40% joins, 40% leaves, 20% mute changes

pytestmark = pytest.mark.slow


@dataclass
class Expected:
    """A node's meeting as its events describe it."""

    present: dict[str, bool] = field(default_factory=dict)  # uuid -> muted
    attended: set[str] = field(default_factory=set)  # display names
    left: set[str] = field(default_factory=set)  # display names of people who left


def node_events(node: InfinityNode, channel: str, seed: int) -> tuple[list[Any], Expected]:
    conference, tag = f"matt-{channel}", f"mattermost:{channel}"
    chooser, expected = random.Random(seed), Expected()
    events = [node.sink_started(), node.conference_started(conference, tag)]

    def join(k: int) -> None:
        uuid, name = f"{node.ip}-{k}", f"{node.ip} p{k}"
        events.append(node.participant_connected(conference, tag, uuid=uuid, display_name=name))
        expected.present[uuid] = False
        expected.attended.add(name)

    for k in range(ALREADY_THERE):
        join(k)
    joined = ALREADY_THERE
    for step in range(BURST):
        if step % 5 in (0, 2):
            join(joined)
            joined += 1
        elif step % 5 in (1, 3):
            uuid = chooser.choice(sorted(expected.present))
            events.append(node.participant_disconnected(conference, tag, uuid))
            del expected.present[uuid]
            expected.left.add(f"{node.ip} p{uuid.rsplit('-', 1)[1]}")
        else:
            uuid = chooser.choice(sorted(expected.present))
            muted = not expected.present[uuid]
            events.append(node.participant_updated(conference, tag, uuid, is_muted=muted))
            expected.present[uuid] = muted
    return events, expected


async def stored_meetings(
    database_url: str,
) -> tuple[list[Any], dict[str, Meeting], dict[str, int]]:
    database = open_database(database_url)
    try:
        async with database.read() as conn:
            rows = list(await conn.execute(select(inbox.c.node, inbox.c.seq, inbox.c.outcome)))
            found = {str(m.channel_id): m for m in await meetings_repo.in_progress(conn)}
            counts = dict(
                (channel, count)
                for channel, count in await conn.execute(
                    select(meetings.c.channel_id, meetings.c.participant_count)
                )
            )
    finally:
        await database.close()
    return rows, found, counts


async def test_kill_9_mid_burst_in_busy_meetings_keeps_their_stored_rows_exact(
    tmp_path: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'meetbridge.db'}"
    service = ServiceProcess(tmp_path, database_url)
    service.cli("migrate")
    auth = basic_auth(*service.credentials())
    service.start()
    channels = [f"busy{n}" + "b" * 21 for n in range(NODES)]
    nodes = [InfinityNode(f"10.19.0.{n}") for n in range(NODES)]
    plans = [
        node_events(node, c, n) for n, (node, c) in enumerate(zip(nodes, channels, strict=True))
    ]
    streams = [events for events, _ in plans]
    async with httpx2.AsyncClient(timeout=5.0) as http:
        publishers = [
            SinkPublisher(http, f"{service.url}/api/pexip/event_sink", auth, retry_delay=0.05)
            for _ in nodes
        ]
        deliveries = [
            asyncio.create_task(p.deliver(s)) for p, s in zip(publishers, streams, strict=True)
        ]
        total = sum(len(s) for s in streams)
        # Killed once the meetings are large and the burst is under way.
        while sum(len(p.acknowledged) for p in publishers) < NODES * ALREADY_THERE + total // 4:
            await asyncio.sleep(0.01)
        service.kill()
        assert sum(len(p.acknowledged) for p in publishers) < total, (
            "the burst ended before the kill"
        )
        service.start()
        try:
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout=240)
            await wait_drained(service.url)
        finally:
            service.stop()

    rows, found, counts = await stored_meetings(database_url)
    applied = Counter((node, seq) for node, seq, outcome in rows if outcome == "applied")
    assert set(applied) == {(e["node"], e["seq"]) for s in streams for e in s}
    assert max(applied.values()) == 1, "an event was applied twice"
    for channel, (_, expected) in zip(channels, plans, strict=True):
        meeting = found[channel]
        assert {uuid: leg.is_muted for uuid, leg in meeting.legs.items()} == expected.present
        assert {a.display_name for a in meeting.attendees.values()} == expected.attended
        gone = {a.display_name for a in meeting.attendees.values() if a.last_left_at is not None}
        assert gone == expected.left
        assert counts[channel] == len(expected.present) == meeting.present_count()
