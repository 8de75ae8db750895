"""The captioner: a worker process that joins a LiveKit room as a hidden participant, listens to
each speaker's microphone, cuts it into utterances (domain/captions.py) and sends caption lines
to the room as data messages on the captions topic, with the speaker's identity and name.

Run as ``python -m meetbridge.engines.livekit.captioner`` with the job as JSON on stdin (the
token never appears in a process listing). A process of its own, in a session of its own and at
a lower priority: a crash or a slow model never holds up meetbridge. Its on/off switch is the
room's metadata (``captioner`` names it): it stops when captions are turned off there, by any
replica, even one that did not start it, and when the meeting is over.

The SFU blanks the sender of a hidden participant's data messages, as for meetbridge's server
API: the page takes caption lines only from such a sender, which only meetbridge can mint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from meetbridge.child_processes import owner_only
from meetbridge.domain.captions import (
    CAPTION_RATE,
    CAPTIONS_TOPIC,
    CaptionLine,
    Chunk,
    ChunkKind,
    Utterances,
    clean_text,
    sticky_language,
)
from meetbridge.transcription.model import resolve
from meetbridge.waits import wait_event

NICENESS = 10  # below the service, which shares the host's cores
ALONE_LIMIT = 20.0  # seconds alone in the room before stopping (LiveKit's departure timeout)
FRAME_MS = 20
NO_SPEECH = 0.6  # a segment the model itself thinks is not speech is not captioned
FRESH = 1.0  # seconds a partial line is worth making: an older one is dropped (the model is behind)


@dataclass(frozen=True, slots=True)
class CaptionJob:
    url: str
    token: str
    identity: str  # ours: captions run while the room's metadata names it
    cache: Path
    model: Path | None = None
    model_sha256: str | None = None
    language: str | None = None  # None: detected per speaker
    threads: int = 0
    alone_seconds: float = ALONE_LIMIT

    @classmethod
    def parse(cls, raw: bytes) -> CaptionJob:
        data = orjson.loads(raw)
        return cls(
            url=str(data["url"]),
            token=str(data["token"]),
            identity=str(data["identity"]),
            cache=Path(data["cache"]),
            model=Path(data["model"]) if data.get("model") else None,
            model_sha256=data.get("model_sha256") or None,
            language=data.get("language") or None,
            threads=int(data.get("threads") or 0),
            alone_seconds=float(data.get("alone_seconds", ALONE_LIMIT)),
        )


def names_captioner(metadata: str, identity: str) -> bool:
    """Whether the room's metadata says captions are on and made by ``identity``."""
    try:
        data = orjson.loads(metadata) if metadata else {}
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("captioner") == identity


@dataclass(slots=True)
class Speaker:
    identity: str
    name: str
    utterances: Utterances
    language: str | None = None


class Transcriber:
    """The speech model, one chunk at a time in a thread of its own (CTranslate2 uses the
    cores itself). Finals first; a speaker's partial waits only until a newer one replaces it,
    and is dropped once stale: when the model falls behind, only final lines are made."""

    def __init__(self, job: CaptionJob) -> None:
        from faster_whisper import WhisperModel  # the `transcription` extra

        directory = resolve(job.model, job.model_sha256, job.cache)
        self._model = WhisperModel(
            str(directory), device="cpu", compute_type="int8", cpu_threads=job.threads
        )
        self._fixed_language = job.language
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="captions")
        self._finals: deque[tuple[Speaker, Chunk]] = deque()
        self._partials: dict[str, tuple[Speaker, Chunk, float]] = {}
        self._work = asyncio.Event()
        self.busy_seconds = 0.0
        self.audio_seconds = 0.0

    def submit(self, speaker: Speaker, chunk: Chunk) -> None:
        if chunk.kind is ChunkKind.FINAL:
            self._partials.pop(speaker.identity, None)  # the final says it all
            self._finals.append((speaker, chunk))
        else:
            self._partials[speaker.identity] = (speaker, chunk, time.monotonic())
        self._work.set()

    async def next(self) -> tuple[Speaker, Chunk]:
        while True:
            if self._finals:
                return self._finals.popleft()
            stale = time.monotonic() - FRESH
            for identity, (speaker, chunk, queued) in list(self._partials.items()):
                del self._partials[identity]
                if queued >= stale:
                    return speaker, chunk
            self._work.clear()
            await self._work.wait()

    async def text(self, speaker: Speaker, chunk: Chunk) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transcribe, speaker, chunk)

    def _transcribe(self, speaker: Speaker, chunk: Chunk) -> str:
        import numpy as np

        started = time.monotonic()
        audio = np.frombuffer(chunk.pcm, dtype="<i2").astype(np.float32) / 32768.0
        segments, info = self._model.transcribe(
            audio,
            language=self._fixed_language or speaker.language,
            # The model's encoder pass costs the same for any chunk (Whisper pads to 30 s):
            # the wider search, which costs little on a short line, is worth it for finals.
            beam_size=5 if chunk.kind is ChunkKind.FINAL else 1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        kept = [s.text for s in segments if s.no_speech_prob < NO_SPEECH]
        if chunk.kind is ChunkKind.FINAL and self._fixed_language is None:
            speaker.language = sticky_language(
                speaker.language, info.language, info.language_probability
            )
        self.busy_seconds += time.monotonic() - started
        self.audio_seconds += len(chunk.pcm) / (2 * CAPTION_RATE)
        return clean_text(kept)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


class Captioner:
    def __init__(self, job: CaptionJob, transcriber: Transcriber) -> None:
        from livekit import rtc  # the `recording` extra

        self._rtc = rtc
        self._job = job
        self._transcriber = transcriber
        self._room = rtc.Room()
        self._speakers: dict[str, Speaker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stop = asyncio.Event()
        self._room.on("track_subscribed", self._subscribed)
        self._room.on("room_metadata_changed", self._metadata_changed)
        self._room.on("disconnected", lambda *_: self.stop.set())

    def _metadata_changed(self, old: str, new: str) -> None:
        if not names_captioner(new, self._job.identity):
            self.stop.set()  # turned off (or another captioner took over)

    def _subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if track.kind != self._rtc.TrackKind.KIND_AUDIO:
            return
        if publication.source != self._rtc.TrackSource.SOURCE_MICROPHONE:
            return  # a shared screen's sound is not someone speaking
        speaker = Speaker(
            identity=str(participant.identity),
            name=str(participant.name or participant.identity),
            utterances=Utterances(),
        )
        self._speakers[publication.sid] = speaker
        self._background(self._listen(track, speaker))

    def _background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: Any, speaker: Speaker) -> None:
        stream = self._rtc.AudioStream(
            track, sample_rate=CAPTION_RATE, num_channels=1, frame_size_ms=FRAME_MS
        )
        try:
            async for event in stream:
                for chunk in speaker.utterances.feed(bytes(event.frame.data.cast("B"))):
                    self._transcriber.submit(speaker, chunk)
        finally:
            for chunk in speaker.utterances.flush():
                self._transcriber.submit(speaker, chunk)
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _caption(self) -> None:
        while True:
            speaker, chunk = await self._transcriber.next()
            text = await self._transcriber.text(speaker, chunk)
            if not text:
                continue
            line = CaptionLine(
                identity=speaker.identity,
                name=speaker.name,
                utterance=chunk.utterance,
                text=text,
                final=chunk.kind is ChunkKind.FINAL,
                at=int(time.time() * 1000),
            )
            await self._room.local_participant.publish_data(
                orjson.dumps(line.payload()), reliable=True, topic=CAPTIONS_TOPIC
            )

    async def run(self) -> None:
        await self._room.connect(
            self._job.url, self._job.token, self._rtc.RoomOptions(auto_subscribe=True)
        )
        if not names_captioner(self._room.metadata, self._job.identity):
            print("captions are not on for this captioner; leaving", flush=True)
            await self._room.disconnect()
            return
        self._background(self._caption())
        company = time.monotonic()
        while not self.stop.is_set():
            if self._room.remote_participants:
                company = time.monotonic()
            elif time.monotonic() - company > self._job.alone_seconds:
                break  # everyone left: the meeting is over
            await wait_event(self.stop, 1.0)
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._room.disconnect()


async def main() -> int:
    owner_only()
    job = CaptionJob.parse(sys.stdin.buffer.read())
    os.nice(NICENESS)
    transcriber = Transcriber(job)  # before joining: a refused model never joins the room
    captioner = Captioner(job, transcriber)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, captioner.stop.set)
    try:
        await captioner.run()
    finally:
        transcriber.close()
        # What the captioner cost (seconds of model time per second of speech), for its log.
        print(
            orjson.dumps(
                {"audio_seconds": transcriber.audio_seconds, "busy": transcriber.busy_seconds}
            ).decode(),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
