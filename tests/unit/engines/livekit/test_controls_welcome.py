"""A device that joins gets the hands queue and the recent chat, sent to it alone (the page
contract): what MeetingControls asks LiveKit to send, recorded by a stand-in RoomService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.tokens import TokenCodec
from meetbridge.engines.livekit.controls import Caller, MeetingControls
from meetbridge.engines.livekit.models import Participant
from meetbridge.store import migrate
from meetbridge.store.database import Database, open_database

CHANNEL = ChannelId("c" * 26)
ROOM = f"mb-{CHANNEL}"


class Clock:
    def now(self) -> float:
        return 1_800_000_000.0


class Rooms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []

    async def list_participants(self, room: str) -> list[Participant]:
        return [Participant(sid="PA_a", identity="a.1", name="Ann")]

    async def send_data(
        self, room: str, data: bytes, *, topic: str, destination_identities: tuple[str, ...]
    ) -> None:
        self.sent.append((topic, orjson.loads(data), tuple(destination_identities)))


class Engine:
    def __init__(self, rooms: Rooms) -> None:
        self._rooms = rooms

    def rooms(self) -> Rooms:
        return self._rooms

    async def is_removed(self, channel_id: ChannelId, user_id: UserId) -> bool:
        return False


class Users:
    async def user_now(self, user_id: UserId) -> None:
        return None

    async def is_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        return True  # everyone here still belongs to the channel


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """Where the room's state is kept (shared by replicas); SQLite will do here."""
    database = open_database(f"sqlite:///{tmp_path / 'meetbridge.db'}")
    await migrate.upgrade(database)
    yield database
    await database.close()


def controls_for(rooms: Rooms, database: Database) -> MeetingControls:
    engine: Any = Engine(rooms)
    return MeetingControls(engine, TokenCodec(b"k" * 32), Clock(), Users(), database)  # type: ignore[arg-type]


async def test_a_joining_device_gets_the_hands_queue_and_recent_chat_alone(
    database: Database,
) -> None:
    rooms = Rooms()
    controls = controls_for(rooms, database)
    ann = Caller(CHANNEL, UserId("a" * 26), "a.1")
    await controls.perform(ann, "raise-hand", {})
    await controls.perform(ann, "chat", {"text": "hello"})
    rooms.sent.clear()

    await controls.welcome(ROOM, "b.2")

    assert [(topic, to) for topic, _, to in rooms.sent] == [
        ("meetbridge.hands", ("b.2",)),
        ("meetbridge.chat", ("b.2",)),
    ]
    assert rooms.sent[0][1]["queue"][0]["identity"] == "a.1"
    assert rooms.sent[1][1]["text"] == "hello" and rooms.sent[1][1]["name"] == "Ann"


async def test_an_empty_meeting_welcomes_with_nothing(database: Database) -> None:
    rooms = Rooms()
    controls = controls_for(rooms, database)
    await controls.welcome(ROOM, "b.2")
    assert rooms.sent == []
