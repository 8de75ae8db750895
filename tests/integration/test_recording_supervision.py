"""meetbridge's supervision of recorder processes against a real livekit-server and a real
recorder: the disk floor refuses a start and stops a running recording with a clear message,
the reminder comes once before the limit and the limit stops it; each outcome is handed to the
outbox (Mattermost here is the stand-in: delivery is tested with the real one in tests/e2e)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.recording import RecordingLimits
from meetbridge.engines.livekit.recording import (
    DISK_FULL,
    STOP_GRACE,
    LiveKitRecordings,
    RecordingRefusedError,
    RecordingSettings,
    files_of,
)
from meetbridge.services.notifications import RECORDING_UPLOAD
from meetbridge.store import recordings_repo
from meetbridge.store.tables import outbox
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.requirements import require
from tests.support.speaker import ToneSpeaker

pytest.importorskip("livekit.rtc")
pytestmark = pytest.mark.livekit

GIB = 1024**3


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


class Disk:
    """The free space the supervisor sees (the real disk is not filled for a test)."""

    def __init__(self) -> None:
        self.free = 100 * GIB

    def __call__(self, directory: Path) -> int:
        return self.free


def recordings_for(
    service: RunningApp, tmp_path: Path, disk: Disk, limits: RecordingLimits
) -> LiveKitRecordings:
    components = service.components
    settings = RecordingSettings(tmp_path / "recordings", limits)
    return LiveKitRecordings(
        components.livekit, components.core.database, components.core.clock,
        lambda: settings, free_space=disk,
    )  # fmt: skip


async def speaker_in_meeting(
    service: RunningApp, mattermost: MattermostStandIn
) -> tuple[ChannelId, UserId, dict[str, Any]]:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    link = await service.components.join.start(ChannelId(channel), UserId(alice))
    config = (await service.components.join.open(link.rsplit("/", 1)[1])).page_config
    return ChannelId(channel), UserId(alice), dict(config)


async def supervise_until(recordings: LiveKitRecordings, done: Any, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        await recordings.supervise()
        if await done():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the supervisor did not get there")


async def upload_messages(service: RunningApp) -> list[str]:
    async with service.components.core.database.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(outbox.c.kind == RECORDING_UPLOAD))
        return [str(payload["message"]) for (payload,) in rows]


async def wait_until_recording(service: RunningApp, channel: ChannelId) -> None:
    async with service.components.core.database.read() as conn:
        row = await recordings_repo.active_for_channel(conn, channel)
    assert row is not None
    status = Path(row.path).with_name(f"recording-{row.id}.status.json")
    for _ in range(300):
        if await asyncio.to_thread(status.exists):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the recorder did not start")


async def test_a_low_disk_refuses_to_start_and_stops_a_running_recording_saying_why(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    disk = Disk()
    recordings = recordings_for(service, tmp_path, disk, RecordingLimits(min_free_bytes=GIB))
    channel, alice, config = await speaker_in_meeting(service, mattermost)
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]) as speaker:
        notices: list[dict[str, Any]] = []
        speaker.room.on(
            "data_received",
            lambda packet: (
                notices.append(orjson.loads(packet.data))
                if packet.topic == "meetbridge.notice"
                else None
            ),
        )
        disk.free = GIB - 1
        with pytest.raises(RecordingRefusedError, match="disk is nearly full"):
            await recordings.start(channel, alice)
        assert not await recordings.is_recording(channel)

        disk.free = 2 * GIB
        await recordings.start(channel, alice)
        await wait_until_recording(service, channel)
        await asyncio.sleep(2)
        disk.free = GIB - 1

        async def stopped() -> bool:
            return not await recordings.is_recording(channel)

        await supervise_until(recordings, stopped)
        await asyncio.sleep(0.5)  # the notices' way through LiveKit
    [message] = await upload_messages(service)
    assert f"**Incomplete:** {DISK_FULL}" in message
    assert {"kind": "recording-stopped", "text": DISK_FULL} in notices


async def test_the_reminder_comes_once_before_the_limit_and_the_limit_stops_it(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    limits = RecordingLimits(max_seconds=4, reminder_seconds=2, min_free_bytes=0)
    recordings = recordings_for(service, tmp_path, Disk(), limits)
    channel, alice, config = await speaker_in_meeting(service, mattermost)
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]) as speaker:
        notices: list[str] = []
        speaker.room.on(
            "data_received",
            lambda packet: (
                notices.append(orjson.loads(packet.data)["kind"])
                if packet.topic == "meetbridge.notice"
                else None
            ),
        )
        await recordings.start(channel, alice)

        async def stopped() -> bool:
            return not await recordings.is_recording(channel)

        await supervise_until(recordings, stopped)
        await asyncio.sleep(0.5)
    assert notices == ["recording-started", "recording-reminder", "recording-stopped"]
    [message] = await upload_messages(service)
    assert message.startswith("Recording of this meeting (0:0")
    assert "Incomplete" not in message


async def test_a_recording_of_another_host_is_left_to_that_host(
    service: RunningApp, tmp_path: Path
) -> None:
    recordings = recordings_for(service, tmp_path, Disk(), RecordingLimits())
    database = service.components.core.database
    async with database.transaction() as conn:
        elsewhere = await recordings_repo.create(
            conn, "c" * 26, None, "mb-" + "c" * 26, "u" * 26, 0.0, "another-host"
        )
        await recordings_repo.change(conn, elsewhere, pid=1, path="/elsewhere/recording.ogg")
    await recordings.supervise()  # pid 1 is no recorder here: that says nothing of that host
    async with database.read() as conn:
        row = await recordings_repo.get(conn, elsewhere)
    assert row is not None and row.state == recordings_repo.RECORDING


async def test_a_failed_recording_leaves_neither_its_partial_mix_nor_its_speaker_tracks(
    service: RunningApp, mattermost: MattermostStandIn, tmp_path: Path
) -> None:
    recordings = recordings_for(service, tmp_path, Disk(), RecordingLimits())
    channel = ChannelId(mattermost.add_channel("Planning", kind="P"))
    async with service.components.core.database.transaction() as conn:
        # A recorder that died before it wrote anything playable (its pid never recorded).
        recording_id = await recordings_repo.create(
            conn, channel, None, f"mb-{channel}", "u" * 26, 0.0, socket.gethostname()
        )
    files = files_of(tmp_path / "recordings", recording_id)
    files.speakers.mkdir(parents=True)
    (files.speakers / "1.ogg").write_bytes(b"OggS, cut short")
    (files.speakers / "manifest.json").write_bytes(b'[{"file": "1.ogg", "start": 0}]')
    files.audio.write_bytes(b"OggS, cut short")

    await recordings.supervise()

    async with service.components.core.database.read() as conn:
        row = await recordings_repo.get(conn, recording_id)
    assert row is not None and row.state == recordings_repo.FAILED
    assert not files.audio.exists() and not files.speakers.exists()
    assert await upload_messages(service) == []


class LaterClock:
    """The wall clock, moved on by ``ahead`` seconds when the test says so."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def now(self) -> float:
        return time.time() + self.ahead


async def test_a_recording_stopped_after_a_long_run_gets_its_grace_to_finish(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The host's stop gives the recorder STOP_GRACE from the stop, not from the recording's
    start: a recorder still finishing its files (a busy machine, a meeting that ended at once)
    was killed a second after the stop of any recording older than the grace, and the post
    said it was cut short."""
    clock = LaterClock()
    settings = RecordingSettings(tmp_path / "recordings", RecordingLimits(min_free_bytes=0))
    components = service.components
    recordings = LiveKitRecordings(
        components.livekit, components.core.database, clock, lambda: settings, free_space=Disk()
    )
    channel, alice, config = await speaker_in_meeting(service, mattermost)
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        await recordings.start(channel, alice)
        await wait_until_recording(service, channel)
        await asyncio.sleep(2)
        clock.ahead = STOP_GRACE + 10  # the recording has run for longer than the grace
        async with components.core.database.read() as conn:
            row = await recordings_repo.active_for_channel(conn, channel)
        assert row is not None and row.pid is not None
        os.kill(row.pid, signal.SIGSTOP)  # still busy finishing when the supervisor looks
        try:
            await recordings.stop(channel)
            await recordings.supervise()
            await recordings.supervise()
        finally:
            os.kill(row.pid, signal.SIGCONT)

        async def stopped() -> bool:
            return not await recordings.is_recording(channel)

        await supervise_until(recordings, stopped)
    [message] = await upload_messages(service)
    assert message.startswith("Recording of this meeting (0:0"), message
    assert "Incomplete" not in message, message
