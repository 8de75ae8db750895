"""A recording's processes and files (issue 20, items 7 and 8), against a real livekit-server and
the real recorder meetbridge spawns: the recorder and the ffmpeg encoders under it, which decode
what participants send, see none of meetbridge's secrets in their environment; the recording, its
speakers' tracks and its status are owner-only whatever the service's umask; and the recorder's
token cannot send data messages into the room."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.recording import RecordingLimits
from meetbridge.engines.livekit.recording import LiveKitRecordings, RecordingSettings
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint, recorder_grant
from meetbridge.store import recordings_repo
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.requirements import require
from tests.support.speaker import ToneSpeaker

rtc = pytest.importorskip("livekit.rtc")

SECRETS = {
    "MEETBRIDGE_SECRET_KEY": "c2VjcmV0LWtleS1vZi1tZWV0YnJpZGdlLXRlc3Rz",
    "MEETBRIDGE_MATTERMOST_TOKEN": "bot-token-that-must-stay-home",
    "MEETBRIDGE_DATABASE_URL": "postgresql://meetbridge:db-password@db/meetbridge",
    "AWS_SECRET_ACCESS_KEY": "an-unrelated-secret-of-the-host",
}


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


def recordings_for(service: RunningApp, directory: Path) -> LiveKitRecordings:
    """meetbridge's recordings into ``directory``, keeping each speaker's track (transcripts)."""
    components = service.components
    settings = RecordingSettings(directory, RecordingLimits(min_free_bytes=0))
    return LiveKitRecordings(
        components.livekit, components.core.database, components.core.clock, lambda: settings,
        transcriptions=components.transcriptions,
    )  # fmt: skip


async def meeting_with_speaker(
    service: RunningApp, mattermost: MattermostStandIn
) -> tuple[ChannelId, UserId, dict[str, Any]]:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    link = await service.components.join.start(ChannelId(channel), UserId(alice))
    config = (await service.components.join.open(link.rsplit("/", 1)[1])).page_config
    return ChannelId(channel), UserId(alice), dict(config)


async def recorder_pid(service: RunningApp, channel: ChannelId) -> tuple[int, Path]:
    """The running recorder's pid and file, once it writes its status."""
    for _ in range(300):
        async with service.components.core.database.read() as conn:
            row = await recordings_repo.active_for_channel(conn, channel)
        if row is not None and row.pid and row.path:
            status = Path(row.path).with_name(f"recording-{row.id}.status.json")
            if status.exists():
                return row.pid, Path(row.path)
        await asyncio.sleep(0.05)
    raise AssertionError("the recorder did not start")


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (its ffmpeg encoders)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode(errors="replace") for key, value in pairs}


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_recorder_and_its_encoders_see_none_of_meetbridges_secrets(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    recordings = recordings_for(service, tmp_path / "recordings")
    channel, alice, config = await meeting_with_speaker(service, mattermost)
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        await recordings.start(channel, alice)
        pid, _ = await recorder_pid(service, channel)
        for _ in range(100):  # the mix's encoder, and one per speaker once they are heard
            encoders = [p for p in descendants(pid) if "ffmpeg" in command_of(p)]
            if len(encoders) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(encoders) >= 2, "the recorder's ffmpeg encoders did not start"
        for process in (pid, *encoders):
            environment = environment_of(process)
            assert "PATH" in environment, command_of(process)
            for name, value in SECRETS.items():
                assert name not in environment, (name, command_of(process))
                assert not any(value in v for v in environment.values()), command_of(process)
            assert not [name for name in environment if name.startswith("MEETBRIDGE_")]
        await recordings.stop(channel)


async def test_recording_files_are_owner_only_whatever_the_umask(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
    tmp_path: Path,
    open_umask: None,
) -> None:
    directory = tmp_path / "recordings"
    recordings = recordings_for(service, directory)
    channel, alice, config = await meeting_with_speaker(service, mattermost)
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        await recordings.start(channel, alice)
        _, path = await recorder_pid(service, channel)
        speakers = path.with_suffix(".speakers")
        for _ in range(100):
            if speakers.is_dir() and any(speakers.glob("*.ogg")):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        await recordings.stop(channel)
    assert mode_of(directory) == 0o700
    assert mode_of(speakers) == 0o700
    written = [p for p in directory.rglob("*") if p.is_file()]
    assert path in written and any(p.parent == speakers for p in written), written
    for file in written:
        assert mode_of(file) == 0o600, (file, oct(mode_of(file)))


async def test_the_recorders_token_cannot_send_data_into_the_room(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    def token(identity: str, recorder: bool) -> str:
        grant = recorder_grant(room_name) if recorder else member_grant(room_name)
        request = AccessTokenRequest(grant=grant, identity=identity, name=identity, ttl=600)
        return mint(livekit_server.api_key.key, livekit_server.api_key.secret, request, time.time())

    listener, recorder, member = rtc.Room(), rtc.Room(), rtc.Room()
    received: list[bytes] = []
    listener.on("data_received", lambda packet: received.append(bytes(packet.data)))
    await listener.connect(livekit_server.ws_url, token("listener", recorder=False))
    await recorder.connect(livekit_server.ws_url, token("recorder", recorder=True))
    await member.connect(livekit_server.ws_url, token("member", recorder=False))
    try:
        with contextlib.suppress(Exception):  # refused at once, or dropped by the server
            await recorder.local_participant.publish_data(b"from the recorder", topic="x")
        await member.local_participant.publish_data(b"from a member", topic="x")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)  # and the recorder's, had it been let through
        assert received == [b"from a member"]
    finally:
        for room in (listener, recorder, member):
            await room.disconnect()
