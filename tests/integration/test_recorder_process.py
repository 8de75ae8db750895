"""The recorder worker against a real livekit-server: it joins hidden, mixes what a synthetic
speaker publishes, and writes Ogg/Opus of the right length (the mix, and each speaker's own
track listed in a manifest); killed, its files still hold everything up to the kill. A screen
share becomes the recording's video, in step with the audio (black before and after it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import orjson
import pytest

from meetbridge.domain.transcript import MANIFEST, parse_manifest
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.engines.livekit.screen import assemble
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint, recorder_grant
from tests.support.livekit import LiveKitServer
from tests.support.requirements import require
from tests.support.speaker import (
    ScreenSharer,
    ToneSpeaker,
    audio_rms,
    brightness_at,
    media_duration,
    stream_kinds,
)

pytest.importorskip("livekit.rtc")
pytestmark = pytest.mark.livekit

SILENCE_FLOOR = 300.0  # RMS of 16-bit audio; the tone is ~5600, Opus silence is ~0


def token(server: LiveKitServer, room: str, identity: str, hidden: bool) -> str:
    grant = recorder_grant(room) if hidden else member_grant(room)
    request = AccessTokenRequest(grant=grant, identity=identity, name=identity, ttl=600)
    return mint(server.api_key.key, server.api_key.secret, request, time.time())


async def start_recorder(
    server: LiveKitServer,
    room: str,
    directory: Path,
    max_seconds: float = 60,
    alone_seconds: float = 20,
) -> asyncio.subprocess.Process:
    job: dict[str, object] = {
        "url": server.ws_url,
        "token": token(server, room, "recorder", hidden=True),
        "output": str(directory / "out.ogg"),
        "status": str(directory / "status.json"),
        "max_seconds": max_seconds,
        "alone_seconds": alone_seconds,
        "speakers": str(directory / "speakers"),
        "screen": str(directory / "screen.webm"),
    }
    with (directory / "recorder.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "meetbridge.engines.livekit.recorder",
            stdin=asyncio.subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(orjson.dumps(job))
    process.stdin.close()
    return process


async def status_of(directory: Path) -> dict[str, object]:
    for _ in range(200):
        path = directory / "status.json"
        if path.exists():
            return dict(orjson.loads(path.read_bytes()))
        await asyncio.sleep(0.05)
    raise AssertionError("the recorder wrote no status")


async def wait_recording(directory: Path) -> None:
    for _ in range(300):
        if (await status_of(directory)).get("state") == "recording":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the recorder did not start recording")


@pytest.fixture(autouse=True)
def _ffmpeg() -> None:
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")


async def test_the_recorder_is_hidden_and_records_the_speaker_for_as_long_as_it_ran(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with ToneSpeaker(livekit_server.ws_url, speaker_token) as speaker:
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        started = asyncio.get_running_loop().time()
        listed = {p.identity: p for p in await room_service.list_participants(room_name)}
        assert listed["recorder"].permission is not None
        assert listed["recorder"].permission.hidden
        assert not speaker.room.remote_participants  # nobody in the room sees it
        await asyncio.sleep(5)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        ran = asyncio.get_running_loop().time() - started
    status = await status_of(tmp_path)
    assert status["state"] == "finished"
    logged = (tmp_path / "recorder.log").read_text(errors="replace")
    assert "eyJ" not in logged and "access_token" not in logged  # no JWT in its output
    duration = media_duration(tmp_path / "out.ogg")
    assert abs(duration - float(str(status["seconds"]))) < 0.5
    assert abs(duration - ran) < 1.0, (duration, ran)
    assert audio_rms(tmp_path / "out.ogg") > SILENCE_FLOOR
    [track] = parse_manifest(orjson.loads((tmp_path / "speakers" / MANIFEST).read_bytes()))
    assert track.end is not None and abs(track.end - duration) < 0.5  # closed when it stopped
    assert not (tmp_path / "screen.webm").exists()  # nobody shared: the recording is audio only
    assert not await assemble(tmp_path / "out.ogg", tmp_path / "screen.webm", tmp_path / "v.webm")
    assert abs(media_duration(tmp_path / "speakers" / track.file) - (track.end - track.start)) < 0.5


async def test_a_killed_recorder_leaves_a_playable_file_of_what_it_had(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with ToneSpeaker(livekit_server.ws_url, speaker_token):
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        await asyncio.sleep(4)
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    status = await status_of(tmp_path)
    assert status["state"] == "recording"  # it never said it finished
    for _ in range(100):  # ffmpeg closes the file once it sees its input end
        if media_duration(tmp_path / "out.ogg") > 0:
            break
        await asyncio.sleep(0.1)
    duration = media_duration(tmp_path / "out.ogg")
    assert 3.0 <= duration <= 5.5, duration
    assert audio_rms(tmp_path / "out.ogg") > SILENCE_FLOOR
    # The speaker's own track is as usable as the mix, and the manifest says whose it is.
    [track] = parse_manifest(orjson.loads((tmp_path / "speakers" / MANIFEST).read_bytes()))
    assert (track.name, track.identity, track.end) == ("speaker", "speaker", None)
    own = tmp_path / "speakers" / track.file
    assert abs(media_duration(own) - (duration - track.start)) < 0.5
    assert audio_rms(own) > SILENCE_FLOOR


async def test_speakers_already_in_the_room_each_get_a_readable_file_of_their_own(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    """The recorder subscribes to everyone present at once when it joins: each microphone still
    gets a file of its own (two encoders once wrote one file, which nothing could read), a muted
    one included (its file is silence, as long as the others). A shared screen's sound is mixed
    but nobody's speech: no file."""
    await room_service.create_room(room_name)

    def speaker(identity: str, muted: bool = False, screen: bool = False) -> ToneSpeaker:
        speaker_token = token(livekit_server, room_name, identity, hidden=False)
        return ToneSpeaker(livekit_server.ws_url, speaker_token, muted, screen_sound=screen)

    async with (
        speaker("alice"),
        speaker("bob"),
        speaker("carol", muted=True),
        speaker("dave", screen=True),
    ):
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        await asyncio.sleep(4)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    duration = media_duration(tmp_path / "out.ogg")
    tracks = parse_manifest(orjson.loads((tmp_path / "speakers" / MANIFEST).read_bytes()))
    assert sorted(t.identity for t in tracks) == ["alice", "bob", "carol"], tracks
    assert len({t.file for t in tracks}) == 3, tracks
    files = {path.name for path in (tmp_path / "speakers").iterdir()}
    assert files == {MANIFEST, *(t.file for t in tracks)}  # none for the screen's sound
    for track in tracks:
        own = tmp_path / "speakers" / track.file
        assert track.end is not None and abs(track.end - duration) < 0.5
        assert abs(media_duration(own) - (track.end - track.start)) < 0.5, track
        loud = audio_rms(own) > SILENCE_FLOOR
        assert loud == (track.identity != "carol"), track


async def test_the_recorder_finishes_by_itself_once_everyone_left(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with ToneSpeaker(livekit_server.ws_url, speaker_token):
        process = await start_recorder(livekit_server, room_name, tmp_path, alone_seconds=2)
        await wait_recording(tmp_path)
        await asyncio.sleep(3)
    # The speaker left: the hidden recorder does not keep the meeting's room alive.
    assert await asyncio.wait_for(process.wait(), 20) == 0
    assert (await status_of(tmp_path))["state"] == "finished"
    assert 4.0 <= media_duration(tmp_path / "out.ogg") <= 8.0


async def test_the_recorder_stops_at_its_time_limit(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with ToneSpeaker(livekit_server.ws_url, speaker_token):
        process = await start_recorder(livekit_server, room_name, tmp_path, max_seconds=3)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    assert (await status_of(tmp_path))["state"] == "finished"
    assert abs(media_duration(tmp_path / "out.ogg") - 3.0) < 0.2


BLACK, SHOWN = 30.0, 150.0  # mean luma: the recorder's black is 16, the synthetic screen ~190


async def test_a_screen_share_becomes_the_video_in_step_with_the_audio_black_around_it(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    sharer_token = token(livekit_server, room_name, "sharer", hidden=False)
    async with (
        ToneSpeaker(livekit_server.ws_url, speaker_token),
        ScreenSharer(livekit_server.ws_url, sharer_token) as sharer,
    ):
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        clock = asyncio.get_running_loop().time
        began = clock()
        await asyncio.sleep(3)
        await sharer.share()
        shared = clock() - began
        await asyncio.sleep(5)
        await sharer.unshare()
        unshared = clock() - began
        await asyncio.sleep(3)
        process.send_signal(signal.SIGTERM)
        ran = clock() - began  # the recording ends here; the recorder then closes its files
        assert await asyncio.wait_for(process.wait(), 30) == 0
    video = tmp_path / "video.webm"
    assert await assemble(tmp_path / "out.ogg", tmp_path / "screen.webm", video)
    assert stream_kinds(video) == ["vp8", "opus"]
    assert abs(media_duration(video) - ran) < 1.0, (media_duration(video), ran)
    assert audio_rms(video) > SILENCE_FLOOR
    # On the recording's timeline: black until the share began, the screen while it was on
    # (a second's margin each side for the share's start-up), black again after it ended.
    assert brightness_at(video, shared - 1.5) < BLACK
    assert brightness_at(video, shared + 2.5) > SHOWN
    assert brightness_at(video, unshared - 1.0) > SHOWN
    assert brightness_at(video, unshared + 1.5) < BLACK
    assert brightness_at(video, ran - 0.5) < BLACK


async def test_a_recorder_killed_during_a_screen_share_leaves_a_playable_video_of_its_part(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with (
        ToneSpeaker(livekit_server.ws_url, speaker_token),
        ScreenSharer(livekit_server.ws_url, token(livekit_server, room_name, "s", False)) as sharer,
    ):
        await sharer.share()
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        began = asyncio.get_running_loop().time()
        await asyncio.sleep(4)
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        killed = asyncio.get_running_loop().time() - began
    for _ in range(100):  # the encoders close their files once they see their input end
        if media_duration(tmp_path / "out.ogg") > 0 and (tmp_path / "screen.webm.json").exists():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    video = tmp_path / "video.webm"
    assert await assemble(tmp_path / "out.ogg", tmp_path / "screen.webm", video)
    assert stream_kinds(video) == ["vp8", "opus"]
    assert abs(media_duration(video) - killed) < 1.0, (media_duration(video), killed)
    assert audio_rms(video) > SILENCE_FLOOR
    assert brightness_at(video, killed - 1.0) > SHOWN


async def test_a_camera_is_not_recorded_the_recording_stays_audio_only(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str, tmp_path: Path
) -> None:
    await room_service.create_room(room_name)
    speaker_token = token(livekit_server, room_name, "speaker", hidden=False)
    async with (
        ToneSpeaker(livekit_server.ws_url, speaker_token),
        ScreenSharer(livekit_server.ws_url, token(livekit_server, room_name, "c", False)) as camera,
    ):
        await camera.share(as_camera=True)
        process = await start_recorder(livekit_server, room_name, tmp_path)
        await wait_recording(tmp_path)
        await asyncio.sleep(4)
        listed = {p.identity: p for p in await room_service.list_participants(room_name)}
        assert [t.source for t in listed["c"].tracks if t.type == "VIDEO"] == ["CAMERA"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    assert (await status_of(tmp_path))["state"] == "finished"
    assert not (tmp_path / "screen.webm").exists()
    assert stream_kinds(tmp_path / "out.ogg") == ["opus"]
    assert audio_rms(tmp_path / "out.ogg") > SILENCE_FLOOR
    assert "Traceback" not in (tmp_path / "recorder.log").read_text(errors="replace")
