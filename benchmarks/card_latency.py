"""Event → card latency: from the event sink's 200 to the meeting card's update reaching a real
Mattermost, at a steady rate of Infinity events.

Real at every step: the test suite's Mattermost (PostgreSQL and the pinned server build,
tests/e2e/mattermost), and `meetbridge serve` as its own process (Granian, SQLite by default or
PostgreSQL with ``--postgres``) posting cards as its bot. Each Conferencing Node hosts one
meeting in progress in its own Mattermost channel and sends its events one at a time, paced so
that all nodes together send ``--rate`` events/s: 40% joins, 40% leaves, 20% mute changes.

A listener on the Mattermost WebSocket of a member of every channel records each card edit as
it arrives, with the card's roster. The latency of a join is the time from its 200 to the first
card edit that names the newcomer; of a leave, to the first edit without the leaver (who leaves
only once a card has named them). Mute changes are not shown on the card, so they load the
service but are not timed.

The floor is Mattermost's own share, measured in the same run: the bot edits a post through the
REST API and the same listener waits for that edit, one at a time.

    uv run python -m benchmarks.card_latency [--rate 1000] [--nodes 32] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import websockets
from sqlalchemy import select
from tests.e2e.mattermost.bootstrap import MattermostWorld, bootstrap
from tests.e2e.mattermost.server import MattermostServer, build_server
from tests.support.infinity import InfinityNode
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.service_process import ServiceProcess

from benchmarks.common import scratch_service
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox

SINK = "/api/pexip/event_sink"
HOST = "Host"  # every meeting's chair, who stays: the meeting never ends during the run


@dataclass
class Timed:
    """A join or a leave the sink acknowledged, and when its card showed it."""

    channel: str
    name: str
    joined: bool
    sent: float
    acknowledged: float
    shown: float | None = None


@dataclass
class CardWatch:
    """Card edits as a Mattermost client receives them, per channel."""

    bot_id: str
    rosters: dict[str, frozenset[str]] = field(default_factory=dict)
    pending: dict[str, list[Timed]] = field(default_factory=dict)
    edits: int = 0
    other_edits: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    def expect(self, timed: Timed) -> None:
        self.pending.setdefault(timed.channel, []).append(timed)

    def receive(self, event: dict[str, Any], now: float) -> None:
        if event.get("event") not in ("posted", "post_edited"):
            return
        post = orjson.loads(event["data"]["post"])
        waiter = self.other_edits.pop(post["id"], None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        props = post.get("props") or {}
        if post.get("user_id") != self.bot_id or "meetbridge_card" not in props:
            return
        roster = frozenset(p["name"] for p in props.get("meeting_participants") or [])
        self.edits += 1
        self.rosters[post["channel_id"]] = roster
        waiting = self.pending.get(post["channel_id"], [])
        for timed in waiting:
            # Only an edit that arrived after the event was sent can be the one that shows it.
            if timed.sent <= now and (timed.name in roster) == timed.joined:
                timed.shown = now
        self.pending[post["channel_id"]] = [t for t in waiting if t.shown is None]


@asynccontextmanager
async def listening(world: MattermostWorld, watch: CardWatch) -> AsyncIterator[None]:
    url = world.url.replace("http://", "ws://") + "/api/v4/websocket"
    headers = {"Authorization": f"Bearer {world.admin.token}"}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["event"] == "hello", hello

        async def listen() -> None:
            async for message in ws:
                watch.receive(orjson.loads(message), time.monotonic())

        listener = asyncio.create_task(listen())
        try:
            yield
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener


@dataclass
class Node:
    """One Conferencing Node with one meeting in progress in ``channel``."""

    infinity: InfinityNode
    channel: str
    size: int
    present: dict[str, str] = field(default_factory=dict)  # uuid → display name
    joined: int = 0

    @property
    def conference(self) -> tuple[str, str]:
        return f"matt-{self.channel}", f"mattermost:{self.channel}"

    def fill(self) -> dict[str, Any]:
        """The meeting's people so far, joined in one bulk envelope."""
        joins = [self._join(role="chair" if k == 0 else "guest") for k in range(self.size)]
        return self.infinity.bulk(joins)

    def _join(self, role: str = "guest") -> dict[str, Any]:
        self.joined += 1
        uuid = f"{self.infinity.ip}-p{self.joined}"
        name = HOST if role == "chair" else f"Guest {self.infinity.ip} {self.joined}"
        self.present[uuid] = name
        return self.infinity.participant_connected(
            *self.conference, uuid=uuid, display_name=name, role=role
        )

    def next_event(self, step: int, shown: frozenset[str]) -> tuple[dict[str, Any], str, bool]:
        """The ``step``th event of the cycle join, leave, join, leave, mute; with the name a
        card must show (or stop showing), or "" for a mute change."""
        if step % 5 in (0, 2):
            envelope = self._join()
            return envelope, envelope["data"]["display_name"], True
        leavers = [u for u, n in self.present.items() if n != HOST and n in shown]
        if step % 5 in (1, 3) and leavers:
            uuid = random.choice(leavers)
            name = self.present.pop(uuid)
            return self.infinity.participant_disconnected(*self.conference, uuid), name, False
        uuid = random.choice(list(self.present))
        muted = random.random() < 0.5
        return self.infinity.participant_updated(*self.conference, uuid, is_muted=muted), "", False


async def drive(
    node: Node,
    service: ServiceProcess,
    authorization: str,
    watch: CardWatch,
    rate: float,
    until: float,
    timed: list[Timed],
) -> int:
    """Sends the node's events one at a time on a fixed schedule; returns how many."""
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    limits = httpx2.Limits(max_connections=1)
    sent_count = 0
    async with httpx2.AsyncClient(timeout=30, headers=headers, limits=limits) as http:
        due = time.monotonic()
        while due < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            envelope, name, joined = node.next_event(
                sent_count, watch.rosters.get(node.channel, frozenset())
            )
            sent = time.monotonic()
            response = await http.post(service.url + SINK, content=orjson.dumps(envelope))
            acknowledged = time.monotonic()
            if response.status_code != 200:
                raise RuntimeError(f"sink answered {response.status_code}: {response.text}")
            sent_count += 1
            if name:
                item = Timed(node.channel, name, joined, sent, acknowledged)
                timed.append(item)
                watch.expect(item)
            due += 1.0 / rate
    return sent_count


def create_channels(world: MattermostWorld, count: int) -> list[str]:
    """Channels of the admin (so their WebSocket hears every card) with the bot in them."""
    headers = {"Authorization": f"Bearer {world.admin.token}"}
    channels = []
    with httpx2.Client(base_url=f"{world.url}/api/v4", headers=headers, timeout=30) as api:
        for index in range(count):
            body = {
                "team_id": world.team_id,
                "name": f"busy-{index:03d}",
                "display_name": f"Busy {index}",
                "type": "O",
            }
            created = api.post("/channels", json=body)
            created.raise_for_status()
            channel = created.json()["id"]
            added = api.post(f"/channels/{channel}/members", json={"user_id": world.bot.id})
            added.raise_for_status()
            channels.append(channel)
    return channels


async def fill(
    nodes: list[Node], service: ServiceProcess, authorization: str, watch: CardWatch
) -> None:
    """Every meeting in progress, and its card showing everyone, before the clock starts."""
    headers = {"Authorization": authorization}
    async with httpx2.AsyncClient(timeout=60, headers=headers) as http:
        for node in nodes:
            response = await http.post(service.url + SINK, content=orjson.dumps(node.fill()))
            response.raise_for_status()
    deadline = time.monotonic() + 120
    while any(watch.rosters.get(n.channel) != frozenset(n.present.values()) for n in nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("the meetings' cards never showed everyone")
        await asyncio.sleep(0.1)


async def mattermost_floor(world: MattermostWorld, channel: str, watch: CardWatch) -> list[float]:
    """Seconds from the bot's REST edit of a post to that edit arriving on the WebSocket."""
    headers = {"Authorization": f"Bearer {world.bot.token}"}
    samples = []
    async with httpx2.AsyncClient(
        base_url=f"{world.url}/api/v4", headers=headers, timeout=30
    ) as api:
        created = await api.post("/posts", json={"channel_id": channel, "message": "floor 0"})
        created.raise_for_status()
        post_id = created.json()["id"]
        for attempt in range(1, 101):
            arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            watch.other_edits[post_id] = arrived
            began = time.monotonic()
            patched = await api.put(f"/posts/{post_id}/patch", json={"message": f"floor {attempt}"})
            patched.raise_for_status()
            samples.append(await asyncio.wait_for(arrived, 10) - began)
    return samples


async def apply_delays(database_url: str, since: float) -> list[float]:
    """Seconds from each event's storing to its applying, from meetbridge's own inbox."""
    database = open_database(database_url)
    try:
        async with database.read() as conn:
            rows = await conn.execute(
                select(inbox.c.received_at, inbox.c.applied_at).where(
                    inbox.c.received_at >= since, inbox.c.applied_at.is_not(None)
                )
            )
            return [applied - received for received, applied in rows]
    finally:
        await database.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_latencies(label: str, seconds: list[float]) -> None:
    ms = [1000 * s for s in seconds]
    print(
        f"  {label:<36} {len(ms):>6} {statistics.median(ms):8.1f} {percentile(ms, 0.9):8.1f} "
        f"{percentile(ms, 0.99):8.1f} {max(ms):8.1f}"
    )


async def measure(
    args: argparse.Namespace, world: MattermostWorld, service: ServiceProcess, database_url: str
) -> None:
    username, password = service.credentials()
    authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    channels = create_channels(world, args.nodes + 1)
    floor_channel, channels = channels[0], channels[1:]
    nodes = [
        Node(InfinityNode(f"10.66.{index}.1"), channel, args.size)
        for index, channel in enumerate(channels, start=1)
    ]
    watch = CardWatch(bot_id=world.bot.id)
    async with listening(world, watch):
        await fill(nodes, service, authorization, watch)
        floor = await mattermost_floor(world, floor_channel, watch)
        timed: list[Timed] = []
        edits_before, started, wall = watch.edits, time.monotonic(), time.time()
        until = started + args.seconds
        counts = await asyncio.gather(
            *(
                drive(node, service, authorization, watch, args.rate / args.nodes, until, timed)
                for node in nodes
            )
        )
        elapsed = time.monotonic() - started
        for _ in range(100):  # up to 10 s for the last cards
            if all(t.shown is not None for t in timed):
                break
            await asyncio.sleep(0.1)
        applying = await apply_delays(database_url, wall)
        report(args, sum(counts) / elapsed, watch.edits - edits_before, elapsed, timed, floor)
        print_latencies("of which stored -> applied (inbox)", applying)


def report(
    args: argparse.Namespace,
    achieved: float,
    edits: int,
    elapsed: float,
    timed: list[Timed],
    floor: list[float],
) -> None:
    # An edit can, rarely, arrive before the 200 it shows: count it as no wait at all.
    waits = [(t.joined, max(0.0, t.shown - t.acknowledged)) for t in timed if t.shown is not None]
    sink = [t.acknowledged - t.sent for t in timed]
    print(
        f"{args.nodes} nodes, one meeting of {args.size} in progress each, "
        f"target {args.rate}/s, achieved {achieved:.0f} events/s for {elapsed:.1f} s; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"card edits received: {edits / elapsed / args.nodes:.1f} per meeting per second")
    print(f"  {'ms':<36} {'n':>6} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    print_latencies("event 200 -> card edit on WebSocket", [wait for _, wait in waits])
    print_latencies("  joins", [wait for joined, wait in waits if joined])
    print_latencies("  leaves", [wait for joined, wait in waits if not joined])
    print_latencies("sink answer (sent -> 200)", sink)
    print_latencies("floor: Mattermost REST edit -> WebSocket", floor)
    print(f"never shown within 10 s: {len(timed) - len(waits)} of {len(timed)}")


@contextmanager
def real_mattermost() -> Iterator[tuple[PostgresServer, MattermostWorld]]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("needs PostgreSQL and Go: make system-deps mattermost-build")
    postgres = PostgresServer(bin_dir)
    postgres.start()
    try:
        postgres.wait_ready()
        mattermost = MattermostServer(
            build_server(), postgres.create_database("mattermost") + "?sslmode=disable"
        )
        mattermost.start()
        try:
            yield postgres, bootstrap(mattermost.url)
        finally:
            mattermost.remove()
    finally:
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1000, help="events/s from all nodes")
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--size", type=int, default=20, help="people in each meeting")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="meetbridge on PostgreSQL too")
    args = parser.parse_args()
    with real_mattermost() as (postgres, world):
        database = {"MEETBRIDGE_DATABASE_URL": postgres.create_database("meetbridge")}
        service = scratch_service(
            MEETBRIDGE_LOG_LEVEL="warning",
            MEETBRIDGE_MATTERMOST_URL=world.url,
            MEETBRIDGE_MATTERMOST_TOKEN=world.bot.token,
            **(database if args.postgres else {}),
        )
        database_url = service.env.get(
            "MEETBRIDGE_DATABASE_URL", f"sqlite:///{service.data_dir / 'meetbridge.db'}"
        )
        service.start()
        try:
            store = "PostgreSQL" if args.postgres else "SQLite"
            print(f"meetbridge serve ({store}) with a real Mattermost, bot posting the cards")
            asyncio.run(measure(args, world, service, database_url))
        finally:
            service.stop()


if __name__ == "__main__":
    main()
