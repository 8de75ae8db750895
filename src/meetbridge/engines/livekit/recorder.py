"""The recorder: a worker process that joins a LiveKit room as a hidden participant, mixes every
audio track and writes Ogg/Opus through ffmpeg; with a ``speakers`` directory in the job it also
writes each participant's track to a file of its own there (for the transcript), listed in
``manifest.json`` with who spoke on it and where in the recording it starts. With a ``screen``
path in the job it also subscribes to screen shares and, once one appears, encodes it live to
that WebM file (engines/livekit/screen.py; finalising muxes it with the mix).

Run as ``python -m meetbridge.engines.livekit.recorder`` with the job as JSON on stdin (the
token never appears in a process listing). It is a process of its own, in a session of its
own, so a crash here never takes meetbridge down and a meetbridge restart does not stop it.
It writes its progress to the status file; ``finished`` there means the file is complete. If
it is killed, ffmpeg (its child) sees the end of its input and closes the Ogg file, which then
holds everything up to the kill (the screen file too): meetbridge posts that part, marked
incomplete.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from meetbridge.child_processes import child_environment, owner_only
from meetbridge.domain.recording import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, JitterBuffer, mix
from meetbridge.domain.transcript import MANIFEST, SpeakerTrack, user_id_of_identity
from meetbridge.engines.livekit.screen import (
    FPS,
    Canvas,
    ScreenStart,
    black_frame,
    encoder_command,
    start_file,
)
from meetbridge.waits import wait_event

STATUS_EVERY = 1.0  # seconds between status file updates
ALONE_LIMIT = 20.0  # seconds alone in the room before stopping (LiveKit's departure timeout)


@dataclass(frozen=True, slots=True)
class Job:
    url: str
    token: str
    output: Path
    status: Path
    max_seconds: float
    alone_seconds: float = ALONE_LIMIT
    speakers: Path | None = None
    screen: Path | None = None  # where the screen share goes, if one appears

    @classmethod
    def parse(cls, raw: bytes) -> Job:
        data = orjson.loads(raw)
        return cls(
            url=str(data["url"]),
            token=str(data["token"]),
            output=Path(data["output"]),
            status=Path(data["status"]),
            max_seconds=float(data["max_seconds"]),
            alone_seconds=float(data.get("alone_seconds", ALONE_LIMIT)),
            speakers=Path(data["speakers"]) if data.get("speakers") else None,
            screen=Path(data["screen"]) if data.get("screen") else None,
        )


def ffmpeg_command(output: Path) -> list[str]:
    """Raw mono PCM in, Ogg/Opus out; packets flushed as they come so a cut file is usable."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-c:a", "libopus", "-b:a", "48k", "-application", "voip",
        "-flush_packets", "1", "-f", "ogg", str(output),
    ]  # fmt: skip


def write_status(path: Path, **status: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps({"pid": os.getpid(), **status}))
    temporary.replace(path)  # readers never see half a file


class SpeakerFile:
    """One participant's track, written frame by frame in step with the mix: its first frame is
    mix frame ``first_frame``, so its offset in the recording is exact, silence included."""

    def __init__(self, track: SpeakerTrack, encoder: asyncio.subprocess.Process) -> None:
        self.track = track
        self.frames = 0
        self._encoder = encoder

    def write(self, frame: bytes) -> None:
        assert self._encoder.stdin is not None
        self._encoder.stdin.write(frame.ljust(FRAME_SAMPLES * 2, b"\0"))
        self.frames += 1

    async def drain(self) -> None:
        assert self._encoder.stdin is not None
        with contextlib.suppress(ConnectionError):
            await self._encoder.stdin.drain()

    def close(self) -> None:
        """End its input: the encoder finishes the file by itself (``Speakers.finish`` waits)."""
        assert self._encoder.stdin is not None
        self._encoder.stdin.close()


class Speakers:
    """The per-speaker files of one recording and their manifest.

    Tracks subscribed at the same moment (everyone already in the room when the recorder joins)
    are opened concurrently: each takes its file number before anything is awaited, so no two
    encoders ever write one file (they did: two Ogg streams interleaved in one file, which no
    reader can open). A track that got no frame at all (opened as the recording ended) is left
    out of the manifest: an encoder given no audio writes a file no reader opens either."""

    def __init__(self, directory: Path, frames_written: Callable[[], int]) -> None:
        self._directory = directory
        self._frames_written = frames_written  # the mix's clock: a track starts where it joins
        self._open: dict[str, SpeakerFile] = {}
        self._tracks: list[SpeakerTrack] = []
        self._numbers = itertools.count(1)
        self._encoders: list[asyncio.subprocess.Process] = []
        self._empty: list[Path] = []  # files of tracks that got no frame, removed at the end
        self._opening: set[str] = set()
        self._none_opening = asyncio.Event()  # no encoder is starting
        self._none_opening.set()
        self._left: set[str] = set()  # unsubscribed while their encoder was starting
        self._finished = False
        directory.mkdir(parents=True, exist_ok=True)
        self._save()

    async def open(self, key: str, participant: Any) -> None:
        if self._finished or key in self._open or key in self._opening:
            return
        file = f"{next(self._numbers)}.ogg"  # taken before the await below
        self._opening.add(key)
        self._none_opening.clear()
        try:
            encoder = await asyncio.create_subprocess_exec(
                *ffmpeg_command(self._directory / file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                env=child_environment(),
            )
        finally:
            self._opening.discard(key)
            if not self._opening:
                self._none_opening.set()
        self._encoders.append(encoder)
        # Read once the encoder is there: the next mix frame is this file's first.
        track = SpeakerTrack(
            file=file,
            identity=str(participant.identity),
            user_id=user_id_of_identity(str(participant.identity)),
            name=str(participant.name or participant.identity),
            start=self._frames_written() * FRAME_MS / 1000,
        )
        self._open[key] = SpeakerFile(track, encoder)
        self._tracks.append(track)
        if self._ended_meanwhile(key):
            self.close(key)
        else:
            self._save()

    def _ended_meanwhile(self, key: str) -> bool:
        """Whether the track, or the recording, ended while the track's encoder started."""
        left = key in self._left
        self._left.discard(key)
        return left or self._finished

    def write(self, frames: dict[str, bytes]) -> None:
        for key, speaker in self._open.items():
            speaker.write(frames.get(key, b""))

    async def drain(self) -> None:
        for speaker in list(self._open.values()):
            await speaker.drain()

    def close(self, key: str) -> None:
        speaker = self._open.pop(key, None)
        if speaker is None:
            if key in self._opening:
                self._left.add(key)
            return
        index = self._tracks.index(speaker.track)
        if speaker.frames:
            end = self._frames_written() * FRAME_MS / 1000
            self._tracks[index] = dataclasses.replace(speaker.track, end=end)
        else:
            del self._tracks[index]
            self._empty.append(self._directory / speaker.track.file)
        self._save()
        speaker.close()

    async def finish(self) -> None:
        """Close every track and wait for every encoder, also those of tracks closed earlier
        (a speaker who left): the recorder must not exit while one is still writing."""
        self._finished = True
        await self._none_opening.wait()  # one starting now closes itself once it is there
        for key in list(self._open):
            self.close(key)
        await asyncio.gather(*(encoder.wait() for encoder in self._encoders))
        for path in self._empty:
            path.unlink(missing_ok=True)

    def _save(self) -> None:
        manifest = self._directory / MANIFEST
        temporary = manifest.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps([track.to_json() for track in self._tracks]))
        temporary.replace(manifest)


class Screen:
    """The screen shares of the room and the live video file of the one on show: the latest
    share that is still on, its last frame held; black before the first and after the last."""

    def __init__(self, output: Path) -> None:
        self._output = output
        self._frames: dict[str, Any] = {}  # share track sid -> its latest frame (or None yet)
        self._canvas = Canvas()
        self._shown: tuple[Any, bytes] | None = None  # the frame last fitted, and its canvas
        self._black = black_frame()

    def add(self, sid: str) -> None:
        self._frames[sid] = None

    def remove(self, sid: str) -> None:
        self._frames.pop(sid, None)

    def received(self, sid: str, frame: Any) -> None:
        if sid in self._frames:
            self._frames.pop(sid)
            self._frames[sid] = frame  # newest last: a new share takes over the picture

    def _current(self) -> bytes:
        frame = next((f for f in reversed(self._frames.values()) if f is not None), None)
        if frame is None:
            return self._black
        if self._shown is None or self._shown[0] is not frame:
            self._shown = (frame, self._canvas.fit(frame.data, frame.width, frame.height))
        return self._shown[1]

    def seen(self) -> bool:
        return any(frame is not None for frame in self._frames.values())

    async def run(self, started: float, end: asyncio.Future[float]) -> None:
        """From the first share frame until ``end`` (the recording's length) is known, write a
        frame every 1/FPS of the recorder's clock: frame n is at start + n/FPS."""
        while not self.seen():
            if end.done():
                return  # nobody shared: the recording stays audio-only
            await asyncio.sleep(1 / FPS)
        first = int((time.monotonic() - started) * FPS)
        encoder = await asyncio.create_subprocess_exec(
            *encoder_command(self._output),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=child_environment(),
        )
        assert encoder.stdin is not None
        ScreenStart(first / FPS).save(start_file(self._output))
        written = 0
        while True:
            last = int(end.result() * FPS) if end.done() else None
            due = last if last is not None else int((time.monotonic() - started) * FPS)
            while first + written < due:
                encoder.stdin.write(self._current())
                written += 1
                with contextlib.suppress(ConnectionError):
                    await encoder.stdin.drain()  # only this task waits on a slow encoder
            if last is not None:
                break
            await asyncio.sleep(1 / FPS)
        encoder.stdin.close()
        await encoder.wait()


class Recorder:
    def __init__(self, job: Job) -> None:
        from livekit import rtc  # the SDK is needed here only (the `recording` extra)

        self._rtc = rtc
        self._job = job
        self._room = rtc.Room()
        self._buffers: dict[str, JitterBuffer] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._written = 0  # mix frames written so far: the clock speaker offsets are read on
        self._speakers = (
            Speakers(job.speakers, lambda: self._written) if job.speakers is not None else None
        )
        self._screen = Screen(job.screen) if job.screen is not None else None
        self.stop = asyncio.Event()
        self._room.on("track_subscribed", self._subscribed)
        self._room.on("track_unsubscribed", self._unsubscribed)
        self._room.on("disconnected", lambda *_: self.stop.set())

    def _subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if track.kind == self._rtc.TrackKind.KIND_VIDEO:
            self._video_subscribed(track, publication)
            return
        if track.kind != self._rtc.TrackKind.KIND_AUDIO:
            return
        buffer = self._buffers.setdefault(publication.sid, JitterBuffer())
        self._background(self._read(track, buffer))
        # A shared screen's sound is in the mix, but nobody's speech: no file of its own.
        screen_sound = publication.source == self._rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO
        if self._speakers is not None and not screen_sound:
            self._background(self._speakers.open(publication.sid, participant))

    def _video_subscribed(self, track: Any, publication: Any) -> None:
        if self._screen is None or publication.source != self._rtc.TrackSource.SOURCE_SCREENSHARE:
            publication.set_subscribed(False)  # cameras are not recorded: not worth receiving
            return
        self._screen.add(publication.sid)
        self._background(self._read_screen(track, publication.sid, self._screen))

    async def _read_screen(self, track: Any, sid: str, screen: Screen) -> None:
        rtc = self._rtc
        # Only the latest frame matters: a queue of one, so a slow writer never piles them up.
        stream = rtc.VideoStream(track, capacity=1, format=rtc.VideoBufferType.I420)
        async for event in stream:
            screen.received(sid, event.frame)

    def _unsubscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if self._screen is not None:
            self._screen.remove(publication.sid)
        self._buffers.pop(publication.sid, None)
        if self._speakers is not None:
            self._speakers.close(publication.sid)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, track: Any, buffer: JitterBuffer) -> None:
        stream = self._rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        async for event in stream:
            buffer.add(bytes(event.frame.data.cast("B")))

    async def run(self) -> float:
        """Record until stopped, the room closes or the limit; returns the seconds written."""
        encoder = await asyncio.create_subprocess_exec(
            *ffmpeg_command(self._job.output),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=child_environment(),
        )
        assert encoder.stdin is not None
        await self._room.connect(
            self._job.url, self._job.token, self._rtc.RoomOptions(auto_subscribe=True)
        )
        started, written, reported = time.monotonic(), 0, 0.0
        company = started  # when someone else was last in the room
        write_status(self._job.status, state="recording", seconds=0.0)
        length: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        video = (
            asyncio.create_task(self._screen.run(started, length))
            if self._screen is not None
            else None
        )
        limit = int(self._job.max_seconds * 1000 // FRAME_MS)
        while not self.stop.is_set() and written < limit:
            # Wall-clock paced: silence is written while nobody speaks, so the file's length
            # is the recording's length.
            due = min(limit, int((time.monotonic() - started) * 1000 // FRAME_MS))
            while written < due:
                frames = {key: buffer.take() for key, buffer in list(self._buffers.items())}
                encoder.stdin.write(mix(list(frames.values())))
                if self._speakers is not None:
                    self._speakers.write(frames)
                written += 1
                self._written = written
            await encoder.stdin.drain()
            if self._speakers is not None:
                await self._speakers.drain()
            seconds = written * FRAME_MS / 1000
            if seconds - reported >= STATUS_EVERY:
                write_status(self._job.status, state="recording", seconds=seconds)
                reported = seconds
            if self._room.remote_participants:
                company = time.monotonic()
            elif time.monotonic() - company > self._job.alone_seconds:
                break  # everyone left: the meeting is over (the hidden recorder keeps no room)
            await wait_event(self.stop, FRAME_MS / 1000)
        length.set_result(written * FRAME_MS / 1000)
        encoder.stdin.close()
        if video is not None:
            await video  # the share's frames up to the audio's end, then its file closed
        if self._speakers is not None:
            await asyncio.gather(encoder.wait(), self._speakers.finish())
        else:
            await encoder.wait()
        for task in list(self._readers):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._room.disconnect()
        return written * FRAME_MS / 1000


async def main() -> int:
    owner_only()  # the recording, the speakers' tracks and their ffmpeg: owner-only files
    job = Job.parse(sys.stdin.buffer.read())
    recorder = Recorder(job)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, recorder.stop.set)
    try:
        seconds = await recorder.run()
    except Exception as exc:
        write_status(job.status, state="failed", error=f"{exc.__class__.__name__}: {exc}"[:300])
        raise
    write_status(job.status, state="finished", seconds=seconds)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
