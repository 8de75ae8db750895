"""Live captions in a LiveKit meeting with every part real: the Mattermost server (its /meet
command and confirmation dialogs), meetbridge and its captioner process, a livekit-server and a
synthetic speaker (espeak-ng speech published with LiveKit's Python SDK). The host turns
captions on and off with /meet; anyone else is refused and changes nothing. Captions outlive a
meetbridge restart: the running captioner is watched again (never a second one), and one that
died while meetbridge was down is replaced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from meetbridge.crypto import generate_master_key
from meetbridge.domain.captions import CAPTIONS_TOPIC
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit.captions import CAPTIONER_PREFIX
from meetbridge.engines.livekit.engine import meeting_state
from meetbridge.engines.livekit.rooms import LiveKitNotFoundError, RoomService
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
from tests.e2e.livekit.test_recording_with_mattermost import config_for, speech_model_settings
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.livekit import LiveKitServer
from tests.support.speech import SpeechSpeaker, require_transcription, spoken_pcm

pytest.importorskip("livekit.rtc")
pytestmark = [pytest.mark.mattermost, pytest.mark.livekit]

SAID = "Please bring your laptop and the notes from last week."
NOT_HOST = "Only the meeting's host or a system admin can turn captions on or off."
MODEL_LOADS = 120.0  # seconds for a captioner to load its model and join, on a loaded host


@pytest.fixture(autouse=True)
async def fresh_room(mattermost: MattermostWorld, room_service: RoomService) -> None:
    """The channel's room may remain from an earlier test on the shared server (with its host)."""
    with contextlib.suppress(LiveKitNotFoundError):
        await room_service.delete_room(f"mb-{mattermost.channels['public']}")


def settings_for(livekit_server: LiveKitServer) -> dict[str, Any]:
    """One install's settings (its master key too), to start meetbridge again on the same data
    directory: a restart, not a new meetbridge."""
    return {
        "secret_key": base64.b64encode(generate_master_key()).decode(),
        "livekit_url": livekit_server.ws_url,
        "livekit_api_key": livekit_server.api_key.key,
        "livekit_api_secret": livekit_server.api_key.secret,
        **speech_model_settings(),
    }


@contextlib.asynccontextmanager
async def meetbridge(
    mattermost: MattermostWorld, tmp_path: Path, settings: dict[str, Any]
) -> AsyncIterator[LiveMeetbridge]:
    running, server, task = await start_live(mattermost, tmp_path, **settings)
    try:
        yield running
    finally:
        await stop_live(running, server, task)


@dataclass
class Heard:
    """What a participant receives from meetbridge: caption lines and notices."""

    captions: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def listen(self, speaker: SpeechSpeaker) -> None:
        def received(packet: Any) -> None:
            if packet.topic == CAPTIONS_TOPIC:
                self.captions.append(orjson.loads(packet.data))
            elif packet.topic == "meetbridge.notice":
                self.notices.append(str(orjson.loads(packet.data)["kind"]))

        speaker.room.on("data_received", received)

    def final_text(self) -> str:
        return " ".join(line["text"] for line in self.captions if line["final"])


async def captioners(rooms: RoomService, channel: str) -> list[Any]:
    present = await rooms.list_participants(f"mb-{channel}")
    return [p for p in present if p.identity.startswith(CAPTIONER_PREFIX)]


async def named_captioner(rooms: RoomService, channel: str) -> str | None:
    [room] = await rooms.list_rooms([f"mb-{channel}"])
    return meeting_state(room).captioner


def one_captioner(rooms: RoomService, channel: str) -> Callable[[], Awaitable[bool]]:
    """Exactly one captioner in the room, hidden, and the one the metadata names."""

    async def check() -> bool:
        present = await captioners(rooms, channel)
        named = await named_captioner(rooms, channel)
        return (
            len(present) == 1
            and present[0].identity == named
            and bool(present[0].permission and present[0].permission.hidden)
        )

    return check


def captioner_running(pid: int) -> bool:
    try:
        return b"meetbridge.engines.livekit.captioner" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def use_livekit(live: LiveMeetbridge, mattermost: MattermostWorld) -> None:
    chosen = await live.meet_confirmed(mattermost.admin, "public", "engine livekit")
    assert chosen.status_code == 200 and not chosen.json(), chosen.text


async def hears_captions(speaker: SpeechSpeaker, heard: Heard, name: str) -> None:
    """The speaker says the sentence; a final caption line with their name follows."""
    before = len(heard.captions)
    speaker.speak()
    await asyncio.wait_for(speaker.said.wait(), 60)

    async def captioned() -> bool:
        return any(line["final"] for line in heard.captions[before:])

    await eventually(captioned, 60, every=0.2)
    lines = [line for line in heard.captions[before:] if line["final"]]
    assert all(line["name"] == name for line in lines), lines
    assert "laptop" in " ".join(line["text"] for line in lines).lower(), lines


async def test_meet_captions_on_and_off_is_the_host_s_and_starts_and_stops_the_captioner(
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
    tmp_path: Path,
) -> None:
    require_transcription()
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    channel = mattermost.channels["public"]
    async with meetbridge(mattermost, tmp_path, settings_for(livekit_server)) as live:
        await use_livekit(live, mattermost)
        config = await config_for(live, alice, "start")
        heard = Heard()
        speech = spoken_pcm(SAID, "en-us", 140)
        async with SpeechSpeaker(livekit_server.ws_url, config["livekit"]["token"], speech) as me:
            heard.listen(me)
            refused = await live.meet(bob, "public", "captions on")
            assert refused["text"] == NOT_HOST
            unconfirmed = await live.meet(alice, "public", "captions on")  # asks first
            assert "not available" not in unconfirmed.get("text", "")
            assert await named_captioner(room_service, channel) is None

            started = await live.meet_confirmed(alice, "public", "captions on")
            assert started.status_code == 200 and not started.json(), started.text
            await eventually(one_captioner(room_service, channel), MODEL_LOADS, every=0.5)
            [pid] = live.components.captions.pids(ChannelId(channel))
            await hears_captions(me, heard, config["displayName"])

            assert (await live.meet(bob, "public", "captions off"))["text"] == NOT_HOST
            assert len(await captioners(room_service, channel)) == 1  # nothing changed
            assert await named_captioner(room_service, channel) is not None

            stopped = await live.meet_confirmed(alice, "public", "captions off")
            assert stopped.status_code == 200 and not stopped.json(), stopped.text
            assert await named_captioner(room_service, channel) is None

            async def gone() -> bool:
                return not await captioners(room_service, channel) and not await asyncio.to_thread(
                    captioner_running, pid
                )

            await eventually(gone, 30, every=0.2)

            async def noticed() -> bool:
                return "captions-stopped" in heard.notices

            await eventually(noticed, 10)
    assert heard.notices[:2] == ["captions-started", "captions-stopped"], heard.notices


async def started_with_captions(
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
    tmp_path: Path,
    settings: dict[str, Any],
    stack: contextlib.AsyncExitStack,
) -> tuple[SpeechSpeaker, Heard, str, int, str]:
    """A meeting with Alice speaking and captions on, and meetbridge stopped once the captioner
    is in the room: (speaker, heard, her name, captioner's pid, its identity)."""
    heard = Heard()
    async with meetbridge(mattermost, tmp_path, settings) as first:
        await use_livekit(first, mattermost)
        config = await config_for(first, mattermost.users["alice"], "start")
        speech = spoken_pcm(SAID, "en-us", 140)
        speaker = await stack.enter_async_context(
            SpeechSpeaker(livekit_server.ws_url, config["livekit"]["token"], speech)
        )
        heard.listen(speaker)
        started = await first.meet_confirmed(mattermost.users["alice"], "public", "captions on")
        assert started.status_code == 200 and not started.json(), started.text
        channel = mattermost.channels["public"]
        await eventually(one_captioner(room_service, channel), MODEL_LOADS, every=0.5)
        [pid] = first.components.captions.pids(ChannelId(channel))
        identity = await named_captioner(room_service, channel)
    assert identity is not None
    return speaker, heard, str(config["displayName"]), pid, identity


async def test_captions_outlive_a_meetbridge_restart_with_the_same_single_captioner(
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
    tmp_path: Path,
) -> None:
    require_transcription()
    channel = mattermost.channels["public"]
    settings = settings_for(livekit_server)
    async with contextlib.AsyncExitStack() as stack:
        speaker, heard, name, pid, identity = await started_with_captions(
            mattermost, livekit_server, room_service, tmp_path, settings, stack
        )
        # meetbridge went away mid-meeting; its captioner did not.
        assert await asyncio.to_thread(captioner_running, pid)

        async with meetbridge(mattermost, tmp_path, settings) as second:

            async def watched() -> bool:
                return second.components.captions.pids(ChannelId(channel)) == [pid]

            await eventually(watched, 30)
            await asyncio.sleep(5)  # rounds of supervision: nothing is started beside it
            assert await one_captioner(room_service, channel)()
            assert await named_captioner(room_service, channel) == identity
            await hears_captions(speaker, heard, name)
            assert await one_captioner(room_service, channel)()
            assert second.components.captions.pids(ChannelId(channel)) == [pid]

            # The restarted meetbridge controls it: /meet captions off stops it.
            alice = mattermost.users["alice"]
            stopped = await second.meet_confirmed(alice, "public", "captions off")
            assert stopped.status_code == 200 and not stopped.json(), stopped.text

            async def gone() -> bool:
                return not await asyncio.to_thread(captioner_running, pid)

            await eventually(gone, 30, every=0.2)
            assert not await captioners(room_service, channel)
    with contextlib.suppress(ChildProcessError):
        await asyncio.to_thread(
            os.waitpid, pid, 0
        )  # the first meetbridge ran in this process: its child


async def test_a_captioner_that_died_while_meetbridge_was_down_is_replaced_by_one(
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
    tmp_path: Path,
) -> None:
    require_transcription()
    channel = mattermost.channels["public"]
    settings = settings_for(livekit_server)
    async with contextlib.AsyncExitStack() as stack:
        speaker, heard, name, pid, identity = await started_with_captions(
            mattermost, livekit_server, room_service, tmp_path, settings, stack
        )
        os.kill(pid, signal.SIGKILL)  # while no meetbridge watches it
        await asyncio.to_thread(os.waitpid, pid, 0)

        async def left() -> bool:
            return not await captioners(room_service, channel)

        await eventually(left, 60, every=0.5)  # LiveKit notices the dead connection
        assert await named_captioner(room_service, channel) == identity  # still on
        async with meetbridge(mattermost, tmp_path, settings) as second:
            second.components.captions.orphan_grace = 5.0  # not the whole grace in a test
            await eventually(one_captioner(room_service, channel), MODEL_LOADS, every=0.5)
            assert await named_captioner(room_service, channel) != identity
            await hears_captions(speaker, heard, name)
            await asyncio.sleep(5)
            assert await one_captioner(room_service, channel)()
            [again] = second.components.captions.pids(ChannelId(channel))
            alice = mattermost.users["alice"]
            stopped = await second.meet_confirmed(alice, "public", "captions off")
            assert stopped.status_code == 200 and not stopped.json(), stopped.text
            await eventually(left, 30, every=0.2)
        with contextlib.suppress(ChildProcessError):
            await asyncio.to_thread(os.waitpid, again, 0)
