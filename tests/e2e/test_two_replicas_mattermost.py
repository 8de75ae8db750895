"""/meet, ringing and PIN rotation through two replicas on one PostgreSQL behind haproxy, with
the real Mattermost; one replica is killed with SIGKILL while a direct-message call rings.

Mattermost's slash command, the users' browsers (sign-in included), Infinity's policy requests
and its events all go through the load balancer, so either replica may answer any of them.
After the kill the other carries on alone: the call's ringing message is posted once and turns
into one missed call (not one per replica), the card is posted once, and the end of the meeting
rotates the channel's PINs exactly once. An in-process meetbridge on the same database stands
by to issue links and read shared state; it runs no workers of its own.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId
from meetbridge.store import pins_repo, revisions
from meetbridge.web.app import create_app
from tests.conftest import running
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.test_meet_flows import bot_posts
from tests.e2e.test_meet_ringing_status import ring_of
from tests.e2e.test_two_replicas import LEASE, haproxy
from tests.e2e.test_two_replicas_setup import bot_commands
from tests.support.backlog import pending_work
from tests.support.haproxy import HaproxyBalancer
from tests.support.infinity import SinkPublisher
from tests.support.postgres import PostgresServer
from tests.support.service_process import ServiceProcess

pytestmark = [pytest.mark.mattermost, pytest.mark.slow]

__all__ = ["haproxy"]  # the fixture, shared with test_two_replicas

RINGING_TIMEOUT = 5
KEY = base64.b64encode(bytes(range(32, 64))).decode()  # one master key for every replica


@dataclass
class BalancedMeetbridge(LiveMeetbridge):
    """LiveMeetbridge's users and Infinity, sent through the load balancer (``url``)."""

    database_url: str = ""

    async def deliver(self, *events: dict[str, Any]) -> None:
        url = f"{self.url}/api/pexip/event_sink"
        await SinkPublisher(self.http, url, self.auth, retry_delay=0.05).deliver(events)

    async def settle(self) -> None:
        """Until the replicas have applied every event and delivered every outbox item."""
        deadline = time.monotonic() + LEASE + 30.0
        while await pending_work(self.database_url) != (0, 0):
            assert time.monotonic() < deadline, await pending_work(self.database_url)
            await asyncio.sleep(0.1)


def replica(tmp_path: Path, name: str, database_url: str, world: MattermostWorld) -> ServiceProcess:
    (tmp_path / name).mkdir()
    return ServiceProcess(
        tmp_path / name,
        database_url,
        MEETBRIDGE_MATTERMOST_URL=world.url,
        MEETBRIDGE_MATTERMOST_TOKEN=world.bot.token,
        MEETBRIDGE_SECRET_KEY=KEY,
        MEETBRIDGE_OUTBOX_LEASE=str(LEASE),
        MEETBRIDGE_LOG_LEVEL="info",
    )


async def wait_for_setup(process: ServiceProcess, timeout: float = 30.0) -> None:
    """Until the replica registered /meet and the sign-in app."""
    deadline = time.monotonic() + timeout
    while "mattermost.setup_done" not in process.log_path.read_text():
        assert time.monotonic() < deadline, process.log_path.read_text()[-3000:]
        await asyncio.sleep(0.2)


@pytest.fixture
async def balanced(
    mattermost: MattermostWorld, postgres_server: PostgresServer, tmp_path: Path, haproxy: str
) -> AsyncIterator[tuple[BalancedMeetbridge, ServiceProcess, ServiceProcess]]:
    database_url = postgres_server.create_database(f"replicas_mm_{time.monotonic_ns()}")
    a, b = (replica(tmp_path, name, database_url, mattermost) for name in ("a", "b"))
    balancer = HaproxyBalancer(haproxy, [a.port, b.port])
    for process in (a, b):  # Mattermost and browsers call back through the balancer
        process.env["MEETBRIDGE_PUBLIC_URL"] = balancer.url
    await asyncio.to_thread(a.cli, "migrate")
    config = ServiceConfig(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=KEY,
        public_url=balancer.url,
        mattermost_url=mattermost.url,
        mattermost_token=mattermost.bot.token,
    )
    app = create_app(config, auto_migrate=False, background=False)
    async with running(app) as standby:
        for key, value in {
            "pexip_node": "pexip.example.com",
            "ringing_timeout": RINGING_TIMEOUT,
        }.items():
            await standby.components.admin.change_setting(key, value, "test")
        # Both at once, as an orchestrator starts them: they take turns registering /meet and
        # the sign-in app, so there is one of each (test_two_replicas_setup checks that).
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        await asyncio.gather(wait_for_setup(a), wait_for_setup(b))
        try:
            with balancer:
                live = BalancedMeetbridge(app, balancer.url, mattermost, database_url=database_url)
                yield live, a, b
                await live.http.aclose()
                for browser in live.browsers.values():
                    await browser.aclose()
        finally:
            a.stop()
            b.stop()


async def ring_posts(live: BalancedMeetbridge) -> list[dict[str, Any]]:
    """The bot's ringing messages to bob (in his direct channel with it) during this test."""
    callee = live.world.users["bob"]
    async with live.world.client(live.world.admin) as api:
        direct = (await api.post("/channels/direct", json=[live.world.bot.id, callee.id])).json()
    posts = await bot_posts(live, direct["id"])
    return [p for p in posts if "meetbridge_ring_id" in p["props"]]


async def pins_of(live: BalancedMeetbridge, channel_id: ChannelId) -> tuple[int, str]:
    """(times any channel's PINs were rotated, this channel's guest PIN: the one pages get)."""
    core = live.components.core
    async with core.database.read() as conn:
        rotations = (await revisions.read_all(conn)).get(pins_repo.TOPIC, 0)
        pins = await pins_repo.get(conn, core.box, channel_id)
    assert pins is not None
    return rotations, pins.guest_pin


async def test_meet_rings_once_and_rotates_pins_once_when_one_of_two_replicas_is_killed(
    balanced: tuple[BalancedMeetbridge, ServiceProcess, ServiceProcess],
    mattermost: MattermostWorld,
) -> None:
    live, a, b = balanced
    assert len(await bot_commands(mattermost, mattermost.team_id)) == 1, "/meet registered twice"
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    dm = ChannelId(mattermost.channels["dm"])
    # Two commands in a row: haproxy's round robin sends one to each replica.
    first, second = await live.meet(alice, "dm"), await live.meet(alice, "dm")
    assert first["goto_location"] and second["goto_location"], (first, second)
    joined = await live.join(second["goto_location"], f"alice-dm-{live.since_ms}")
    rotations, pin = await pins_of(live, dm)
    assert pin == joined.pin

    # While the call starts ringing: either replica may hold the ringing item when A dies.
    await asyncio.to_thread(a.kill)
    again = await live.meet(alice, "dm")  # answered by the replica left
    assert again["goto_location"], again

    async def missed() -> dict[str, Any] | None:
        return await ring_of(live, bob, "missed")

    ring = await eventually(missed, timeout=RINGING_TIMEOUT + LEASE + 20)
    await live.leave(joined)
    await live.end(joined.alias)
    await live.settle()

    assert [p["id"] for p in await ring_posts(live)] == [ring["id"]], "rang more than once"
    cards = [p for p in await bot_posts(live, "dm") if "meetbridge_meeting_id" in p["props"]]
    assert len(cards) == 1, "the meeting card was posted more than once"
    assert cards[0]["props"]["meeting_status"] == "ENDED"
    after, new_pin = await pins_of(live, dm)
    assert after == rotations + 1, f"PINs rotated {after - rotations} times, not once"
    assert new_pin != pin
    assert b.process is not None and b.process.poll() is None
