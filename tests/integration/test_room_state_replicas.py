"""Two meetbridge replicas on one database (SQLite and PostgreSQL) in front of a real
livekit-server: a meeting page's control calls may reach either, and what one records (a raised
hand, a chat line, a reaction, a stats report) the other answers from. The room's state is
forgotten when the meeting ends."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

import orjson
import pytest

from meetbridge.chat.mattermost.interactions import Invocation
from meetbridge.config import ServiceConfig
from meetbridge.domain.call_stats import CallStats
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.rate_limits import CHAT, REACTIONS
from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.controls import HANDS, RECENT_CHAT
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.store import room_state_repo
from meetbridge.web.app import create_app, housekeep
from tests.conftest import RunningApp, running
from tests.integration.test_livekit_controls import Device, act, join
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.mattermost_standin import MattermostStandIn

REPORT = {"sendKbps": 1200, "receiveKbps": 2400, "packetLossPercent": 1.5, "rttMs": 42}


@pytest.fixture
async def replicas(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[tuple[RunningApp, RunningApp]]:
    """Replica A and replica B: one configuration (one database, one secret key), as two
    processes behind a load balancer have."""
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            app = create_app(
                config, mattermost_transport=mattermost.transport(), auto_migrate=True,
                background=False,
            )  # fmt: skip
            started.append(await stack.enter_async_context(running(app, default_engine=None)))
        a, b = started
        await a.components.admin.change_settings(
            {"livekit_url": livekit_server.ws_url, "livekit_api_key": livekit_server.api_key.key},
            "test",
        )
        await a.components.admin.set_secret(
            "livekit_api_secret", livekit_server.api_key.secret, "test"
        )
        for replica in (a, b):
            await replica.components.state.refresh()
        yield a, b


@pytest.fixture
async def meeting(
    replicas: tuple[RunningApp, RunningApp],
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
) -> AsyncIterator[tuple[str, Device, Device]]:
    """Alice (host) joined through replica A, Bob through replica B; both connected."""
    a, b = replicas
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    alices, bobs = await join(a, channel, alice), await join(b, channel, bob)
    async with AsyncExitStack() as stack:
        for device in (alices, bobs):
            await stack.enter_async_context(
                SignallingParticipant(livekit_server.ws_url, device.livekit_token)
            )
        yield channel, alices, bobs


class SentData:
    """What a replica asks LiveKit to send (it still sends it): the payloads, by topic."""

    def __init__(self, rooms: RoomService) -> None:
        self.sent: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
        self._send = rooms.send_data

    async def send_data(
        self,
        room: str,
        data: bytes,
        *,
        reliable: bool = True,
        destination_identities: Sequence[str] = (),
        topic: str | None = None,
    ) -> None:
        self.sent.append((topic or "", orjson.loads(data), tuple(destination_identities)))
        await self._send(
            room, data, reliable=reliable, destination_identities=destination_identities,
            topic=topic,
        )  # fmt: skip

    def queues(self) -> list[list[str]]:
        return [
            [hand["identity"] for hand in body["queue"]] for t, body, _ in self.sent if t == HANDS
        ]


def watch(replica: RunningApp, monkeypatch: pytest.MonkeyPatch) -> SentData:
    rooms = replica.components.livekit.rooms()
    recorder = SentData(rooms)
    monkeypatch.setattr(rooms, "send_data", recorder.send_data)
    return recorder


async def test_a_hand_raised_through_one_replica_is_in_the_queue_the_other_sends(
    replicas: tuple[RunningApp, RunningApp],
    meeting: tuple[str, Device, Device],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = replicas
    channel, alice, bob = meeting
    sent_by_b = watch(b, monkeypatch)
    assert (await act(a, alice, "raise-hand")).status_code == 200
    assert (await act(b, bob, "raise-hand")).status_code == 200
    assert sent_by_b.queues() == [[alice.identity, bob.identity]]

    # A device that joins and is welcomed by B gets the queue A's call made.
    sent_by_b.sent.clear()
    await b.components.controls.welcome(f"mb-{channel}", "late.1")
    assert sent_by_b.queues() == [[alice.identity, bob.identity]]

    sent_by_a = watch(a, monkeypatch)
    assert (await act(a, bob, "lower-hand")).status_code == 200
    assert sent_by_a.queues() == [[alice.identity]]


async def test_stats_stored_through_one_replica_are_answered_by_the_other(
    replicas: tuple[RunningApp, RunningApp], meeting: tuple[str, Device, Device]
) -> None:
    a, b = replicas
    channel, _, bob = meeting
    bob_id = UserId(bob.identity.split(".", 1)[0])  # each device's identity is user.suffix
    assert (await act(a, bob, "stats", **REPORT)).status_code == 200
    answer = await b.components.interactions.command(
        Invocation(bob_id, ChannelId(channel), "t" * 26, "stats")
    )
    assert "sending 1,200 kbit/s" in answer["text"] and "42 ms" in answer["text"]
    stats = await b.components.controls.last_stats(bob_id)
    assert isinstance(stats, CallStats) and stats.packet_loss_percent == 1.5


async def test_the_reaction_limit_holds_across_replicas(
    replicas: tuple[RunningApp, RunningApp], meeting: tuple[str, Device, Device]
) -> None:
    a, b = replicas
    _, _, bob = meeting
    codes = [(await act(replica, bob, "react", emoji="👍")).status_code for replica in (a, b, a, b)]
    assert codes == [200] * REACTIONS.count + [429]


async def test_the_chat_limit_of_a_device_holds_across_replicas(
    replicas: tuple[RunningApp, RunningApp], meeting: tuple[str, Device, Device]
) -> None:
    a, b = replicas
    _, alice, bob = meeting
    spread = [a, b] * CHAT.count
    codes = [(await act(replica, bob, "chat", text="x")).status_code for replica in spread]
    assert codes == [200] * CHAT.count + [429] * CHAT.count
    assert (await act(b, alice, "chat", text="mine")).status_code == 200  # per device


async def test_chat_through_one_replica_is_the_recent_chat_of_the_other_until_the_end(
    replicas: tuple[RunningApp, RunningApp], meeting: tuple[str, Device, Device]
) -> None:
    a, b = replicas
    channel, alice, bob = meeting
    room = f"mb-{channel}"
    assert (await act(a, bob, "chat", text="hello from A")).status_code == 200
    assert (await act(b, bob, "raise-hand")).status_code == 200
    assert [line["text"] for line in await b.components.controls.recent_chat(room)] == [
        "hello from A"
    ]
    assert (await act(b, alice, "end")).status_code == 200  # the host, through the other one
    assert await a.components.controls.recent_chat(room) == []
    async with a.components.core.database.read() as conn:
        assert await room_state_repo.hands(conn, room, 10) == []


async def test_a_room_finished_webhook_at_either_replica_forgets_the_rooms_state(
    replicas: tuple[RunningApp, RunningApp],
    meeting: tuple[str, Device, Device],
    livekit_server: LiveKitServer,
) -> None:
    a, b = replicas
    channel, alice, _ = meeting
    room = f"mb-{channel}"
    assert (await act(a, alice, "raise-hand")).status_code == 200
    assert (await act(a, alice, "chat", text="before the end")).status_code == 200
    body = orjson.dumps(
        {"event": "room_finished", "id": f"EV_{uuid.uuid4().hex}", "createdAt": int(time.time()),
         "room": {"sid": "RM_x", "name": room}}
    )  # fmt: skip
    answer = await b.http.post(
        "/api/livekit/webhook",
        content=body,
        headers={
            "Authorization": _signed(body, livekit_server),
            "Content-Type": "application/webhook+json",
        },
    )
    assert answer.status_code == 200, answer.text
    assert await a.components.controls.recent_chat(room) == []
    async with a.components.core.database.read() as conn:
        assert await room_state_repo.hands(conn, room, 10) == []


async def test_housekeeping_forgets_room_state_and_stats_by_age(
    replicas: tuple[RunningApp, RunningApp],
) -> None:
    a, _ = replicas
    database, now = a.components.core.database, time.time()
    old_room, new_room, old_user, new_user = "mb-" + "o" * 26, "mb-" + "n" * 26, "u" * 26, "v" * 26
    async with database.transaction() as conn:
        for room, at in ((old_room, now - 2 * 86400), (new_room, now)):
            await room_state_repo.raise_hand(conn, room, f"{room}.1", "Ann", int(at * 1000))
            line = {
                "id": "l",
                "name": "Ann",
                "text": "hi",
                "at": int(at * 1000),
                "source": "meeting",
            }
            await room_state_repo.add_chat_line(conn, room, line, at)
            await room_state_repo.count_action(conn, room, f"{room}.1", "react", at, 5.0)
        for user, at in ((old_user, now - 60 * 86400), (new_user, now)):
            await room_state_repo.save_stats(conn, UserId(user), CallStats(1, 2, 3, 4, at))
    await housekeep(a.components)
    async with database.read() as conn:
        assert await room_state_repo.hands(conn, old_room, 10) == []
        assert await room_state_repo.recent_chat(conn, old_room, 10) == []
        assert await room_state_repo.last_stats(conn, UserId(old_user)) is None
        assert len(await room_state_repo.hands(conn, new_room, 10)) == 1
        assert len(await room_state_repo.recent_chat(conn, new_room, 10)) == 1
        assert await room_state_repo.last_stats(conn, UserId(new_user)) is not None
    async with database.transaction() as conn:  # the old window was dropped: counting restarts
        counted = await room_state_repo.count_action(
            conn, old_room, f"{old_room}.1", "react", now, 5.0
        )
        assert counted == 1


async def test_housekeeping_keeps_only_the_chat_lines_a_joining_device_is_sent(
    replicas: tuple[RunningApp, RunningApp],
) -> None:
    a, _ = replicas
    database, now = a.components.core.database, time.time()
    busy, quiet = "mb-" + "b" * 26, "mb-" + "q" * 26
    async with database.transaction() as conn:
        for number in range(RECENT_CHAT + 5):
            for room in (busy, quiet) if number < 3 else (busy,):
                line = {"id": f"{room}-{number}", "name": "Ann", "text": str(number),
                        "at": number, "source": "meeting"}  # fmt: skip
                await room_state_repo.add_chat_line(conn, room, line, now)
    await housekeep(a.components)
    async with database.read() as conn:
        kept = await room_state_repo.recent_chat(conn, busy, 10 * RECENT_CHAT)
        assert [line["text"] for line in kept] == [str(n) for n in range(5, RECENT_CHAT + 5)]
        assert len(await room_state_repo.recent_chat(conn, quiet, 10 * RECENT_CHAT)) == 3


async def test_a_reaction_window_reopens_after_its_time_and_after_the_clock_went_back(
    replicas: tuple[RunningApp, RunningApp],
) -> None:
    a, _ = replicas
    room, identity, t = "mb-" + "r" * 26, "r.1", 1_800_000_000.0
    async with a.components.core.database.transaction() as conn:
        counts = [await room_state_repo.count_action(conn, room, identity, "react", t + d, 5.0)
                  for d in (0, 1, 2, 3, 5.5, -100)]  # fmt: skip
    assert counts == [1, 2, 3, 4, 1, 1]


def _signed(body: bytes, server: LiveKitServer) -> str:
    issued = time.time()
    claims = {
        "iss": server.api_key.key,
        "nbf": int(issued),
        "iat": int(issued),
        "exp": int(issued) + 300,
        "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    return hs256.encode(claims, server.api_key.secret)
