"""A synthetic speaker for recording tests: a LiveKit participant publishing a steady tone
through LiveKit's Python SDK, a synthetic screen share (generated frames published as
SCREEN_SHARE), and ffmpeg/ffprobe readers for what was recorded."""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess
from array import array
from pathlib import Path
from types import TracebackType
from typing import Any

from meetbridge.domain.recording import SAMPLE_RATE, rms

TONE_HZ, AMPLITUDE = 440, 8000
TEN_MS = SAMPLE_RATE // 100


def tone_frame(index: int) -> bytes:
    """10 ms of a 440 Hz sine (16-bit mono), continuous from frame to frame."""
    start = index * TEN_MS
    return array(
        "h",
        (
            int(AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * (start + n) / SAMPLE_RATE))
            for n in range(TEN_MS)
        ),
    ).tobytes()


class ToneSpeaker:
    """Joins with ``token`` and publishes a microphone playing a tone until closed (``muted``:
    published muted, as a page joining a channel meeting does; the SFU forwards no packet;
    ``screen_sound``: published as a shared screen's sound instead)."""

    def __init__(
        self, url: str, token: str, muted: bool = False, screen_sound: bool = False
    ) -> None:
        from livekit import rtc

        self._rtc = rtc
        self._url, self._token = url, token
        self._muted = muted
        self._source = (
            rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO
            if screen_sound
            else rtc.TrackSource.SOURCE_MICROPHONE
        )
        self.room = rtc.Room()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ToneSpeaker:
        rtc = self._rtc
        await self.room.connect(self._url, self._token)
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        options = rtc.TrackPublishOptions()
        options.source = self._source
        await self.room.local_participant.publish_track(track, options)
        if self._muted:
            track.mute()
        self._task = asyncio.create_task(self._play(source))
        return self

    async def _play(self, source: Any) -> None:
        index = 0
        frames = [tone_frame(i) for i in range(10)]  # 100 ms hold 44 whole cycles: loops cleanly
        while True:
            pcm = frames[index % len(frames)]
            await source.capture_frame(self._rtc.AudioFrame(pcm, SAMPLE_RATE, 1, TEN_MS))
            index += 1

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.room.disconnect()


SHARE_WIDTH, SHARE_HEIGHT, SHARE_FPS = 640, 360, 10
SHARE_GREY = 200  # the share is bright: frames of it tell apart from the recording's black


class ScreenSharer:
    """Joins with ``token`` and, between ``share()`` and ``unshare()``, publishes a generated
    screen (light grey with a dark bar moving across) as a SCREEN_SHARE video track."""

    def __init__(self, url: str, token: str) -> None:
        from livekit import rtc

        self._rtc = rtc
        self._url, self._token = url, token
        self.room = rtc.Room()
        self._task: asyncio.Task[None] | None = None
        self._sid = ""

    async def __aenter__(self) -> ScreenSharer:
        await self.room.connect(self._url, self._token)
        return self

    async def share(self, as_camera: bool = False) -> None:
        """Start sharing (``as_camera``: the same picture, published as a camera instead)."""
        rtc = self._rtc
        source = rtc.VideoSource(SHARE_WIDTH, SHARE_HEIGHT, is_screencast=not as_camera)
        track = rtc.LocalVideoTrack.create_video_track("screen", source)
        options = rtc.TrackPublishOptions()
        options.source = (
            rtc.TrackSource.SOURCE_CAMERA if as_camera else rtc.TrackSource.SOURCE_SCREENSHARE
        )
        publication = await self.room.local_participant.publish_track(track, options)
        self._sid = publication.sid
        self._task = asyncio.create_task(self._show(source))

    async def _show(self, source: Any) -> None:
        rtc, index = self._rtc, 0
        while True:
            source.capture_frame(
                rtc.VideoFrame(SHARE_WIDTH, SHARE_HEIGHT, rtc.VideoBufferType.RGBA, screen(index))
            )
            index += 1
            await asyncio.sleep(1 / SHARE_FPS)

    async def unshare(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self.room.local_participant.unpublish_track(self._sid)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.unshare()
        await self.room.disconnect()


def screen(index: int) -> bytes:
    """One RGBA frame of the synthetic screen: grey, with a dark bar at a place that moves."""
    row = bytearray(bytes([SHARE_GREY, SHARE_GREY, SHARE_GREY, 255]) * SHARE_WIDTH)
    bar = (index * 16) % (SHARE_WIDTH - 32)
    row[bar * 4 : (bar + 32) * 4] = bytes([20, 20, 20, 255]) * 32
    return bytes(row) * SHARE_HEIGHT


def stream_kinds(path: Path) -> list[str]:
    """The codec of each stream in the file, in order (e.g. ["vp8", "opus"])."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
         "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return result.stdout.split()


def brightness_at(path: Path, seconds: float) -> float:
    """The mean luma (0..255) of the video frame shown at ``seconds``: the last one before it
    (frames may be seconds apart: the fps filter holds each until the next, as players do)."""
    picture = f"fps=10,trim=start={seconds:.2f},scale=64:36,format=gray"
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1",
         "-vf", picture, "-f", "rawvideo", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    pixels = result.stdout
    assert pixels, f"no video frame at {seconds} s"
    return sum(pixels) / len(pixels)


def media_duration(path: Path) -> float:
    """The duration of a media file, as ffprobe reads it from its streams."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration",
         "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return float(result.stdout.strip())


def decoded_pcm(path: Path) -> bytes:
    """The file's audio decoded to 48 kHz mono 16-bit PCM by ffmpeg."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return result.stdout


def audio_rms(path: Path) -> float:
    return rms(decoded_pcm(path))
