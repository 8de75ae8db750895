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

Only the speech model runs at a lower priority (engines/livekit/caption_model.py), not the
connection to LiveKit. A connection lost all the same is made again with the same token, the
model still loaded: final lines made meanwhile are sent once it is back, and the meeting is told
that captions were interrupted and for how long (what was said while the captioner was away, or
could not run, never reached it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from meetbridge.child_processes import owner_only
from meetbridge.domain.captions import (
    CAPTION_RATE,
    CAPTIONS_TOPIC,
    NOTICE_TOPIC,
    CaptionLine,
    ChunkKind,
    Utterances,
    interruption_notice,
)
from meetbridge.engines.livekit.caption_model import Speaker, Transcriber
from meetbridge.waits import wait_event

ALONE_LIMIT = 20.0  # seconds alone in the room before stopping (LiveKit's departure timeout)
FRAME_MS = 20
INTERRUPTED = 2.0  # seconds away (or not running) after which the meeting is told captions stopped
STALL_MATTERS = 30.0  # seconds after a stall that a lost connection is put down to it
RECONNECT_FOR = 60.0  # seconds to try to join again after the connection was lost
UNSENT = 50  # final lines kept while the connection is down, sent once it is back
# The connection ended for good: the meeting is over, or this captioner was removed or replaced.
FINAL_REASONS = frozenset({"CLIENT_INITIATED", "DUPLICATE_IDENTITY", "PARTICIPANT_REMOVED",
                           "ROOM_DELETED", "ROOM_CLOSED"})  # fmt: skip


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


class Captioner:
    def __init__(self, job: CaptionJob, transcriber: Transcriber) -> None:
        from livekit import rtc  # the `recording` extra

        self._rtc = rtc
        self._job = job
        self._transcriber = transcriber
        self._room: Any = rtc.Room()
        # By identity: a speaker heard again after a reconnect keeps their utterance numbers
        # (a page replaces a line by its number) and language.
        self._speakers: dict[str, Speaker] = {}
        self._listening: dict[str, asyncio.Task[None]] = {}  # by identity
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsent: deque[CaptionLine] = deque(maxlen=UNSENT)
        # When captions were last known to work, while they are interrupted (the connection was
        # lost, or this process could not run); None while they work.
        self._away_since: float | None = None
        self._stalled: tuple[float, float] | None = None  # the last time it could not run
        self._lost = asyncio.Event()  # the connection ended, and not for good
        self.stop = asyncio.Event()

    def _wire(self, room: Any) -> None:
        """The room's events, taken only while it is the current one (a room replaced after a
        lost connection may still report its end)."""

        def current(handler: Any) -> Any:
            return lambda *args: handler(*args) if room is self._room else None

        room.on("track_subscribed", current(self._subscribed))
        room.on("room_metadata_changed", current(self._metadata_changed))
        room.on("disconnected", current(self._disconnected))
        room.on("reconnecting", current(self._reconnecting))
        room.on("reconnected", current(lambda: self._background(self._back())))

    def _metadata_changed(self, old: str, new: str) -> None:
        if not names_captioner(new, self._job.identity):
            self.stop.set()  # turned off (or another captioner took over)

    def _reconnecting(self) -> None:
        now, since = time.monotonic(), time.monotonic()
        if self._stalled is not None and now - self._stalled[1] < STALL_MATTERS:
            since = self._stalled[0]  # found lost after this process could not run: lost then
        self._interrupted(since)

    def _interrupted(self, since: float) -> None:
        self._away_since = since if self._away_since is None else min(since, self._away_since)

    async def _watch(self) -> None:
        """Remembers when this process could not run for a while (a frozen or starved host).
        Audio is not lost for that alone (the SDK queues it), but a connection that did not
        live through it was lost from its start."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if now - last >= INTERRUPTED:
                print(f"not running for {now - last:.1f} s", flush=True)
                self._stalled = (last, now)
                if self._away_since is not None:
                    self._interrupted(last)
            last = now

    def _disconnected(self, reason: Any = None) -> None:
        name = self._rtc.DisconnectReason.Name(reason) if reason is not None else "UNKNOWN_REASON"
        print(f"disconnected: {name}", flush=True)
        if name in FINAL_REASONS:
            self.stop.set()
        else:
            self._reconnecting()
            self._lost.set()

    def _subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if track.kind != self._rtc.TrackKind.KIND_AUDIO:
            return
        if publication.source != self._rtc.TrackSource.SOURCE_MICROPHONE:
            return  # a shared screen's sound is not someone speaking
        identity = str(participant.identity)
        speaker = self._speakers.setdefault(identity, Speaker(identity, "", Utterances()))
        speaker.name = str(participant.name or participant.identity)
        previous = self._listening.pop(identity, None)
        if previous is not None:
            previous.cancel()  # its track is gone: what it heard last is made final
        self._listening[identity] = self._background(self._listen(track, speaker))

    def _background(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
            try:
                text = await self._transcriber.text(speaker, chunk)
            except Exception as exc:  # one line lost, not the captions
                print(f"a line failed: {exc.__class__.__name__}: {exc}", flush=True)
                continue
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
            if line.final:
                self._unsent.append(line)
                await self._send_unsent()
            elif not self._unsent and self._away_since is None:
                await self._publish(CAPTIONS_TOPIC, line.payload())  # lost if it fails: stale

    async def _send_unsent(self) -> None:
        """Final lines in order; those the connection could not take wait until it is back."""
        while self._unsent and self._away_since is None:
            if not await self._publish(CAPTIONS_TOPIC, self._unsent[0].payload()):
                return
            self._unsent.popleft()

    async def _publish(self, topic: str, payload: dict[str, object]) -> bool:
        try:
            await self._room.local_participant.publish_data(
                orjson.dumps(payload), reliable=True, topic=topic
            )
        except Exception as exc:  # PublishDataError, or a room torn down meanwhile
            print(f"not sent: {exc.__class__.__name__}: {exc}", flush=True)
            return False
        return True

    async def _back(self) -> None:
        """Connected again: say how long captions were interrupted, then send what waited (if
        the notice cannot be sent yet, the connection is not back after all: it waits)."""
        if self._away_since is None:
            return
        away = time.monotonic() - self._away_since
        print(f"captions back after {away:.1f} s", flush=True)
        if away >= INTERRUPTED and not await self._publish(NOTICE_TOPIC, interruption_notice(away)):
            return
        self._away_since = None
        await self._send_unsent()

    async def _connect(self) -> bool:
        """Join (again, after a lost connection: a new room object, the same token), for up to
        RECONNECT_FOR seconds; whether it is in and still the room's captioner."""
        deadline = time.monotonic() + RECONNECT_FOR
        delay = 0.5
        while not self.stop.is_set():
            old, self._room = self._room, self._rtc.Room()
            self._wire(self._room)
            with contextlib.suppress(Exception):
                await old.disconnect()  # what is left of the lost connection
            try:
                await self._room.connect(
                    self._job.url, self._job.token, self._rtc.RoomOptions(auto_subscribe=True)
                )
                return names_captioner(self._room.metadata, self._job.identity)
            except self._rtc.ConnectError as exc:
                print(f"could not join: {exc}", flush=True)
            if time.monotonic() + delay > deadline:
                return False
            await wait_event(self.stop, delay)
            delay = min(delay * 2, 8.0)
        return False

    async def run(self) -> None:
        captioning: list[asyncio.Task[None]] = []  # the lines, and the watch over this process
        while not self.stop.is_set():
            if not await self._connect():
                print("captions are not on for this captioner, or no room; leaving", flush=True)
                break
            if not captioning:
                captioning = [self._background(self._caption()), self._background(self._watch())]
            else:
                await self._back()
            await self._stay()
            if self._lost.is_set():
                self._lost.clear()
                for task in self._listening.values():
                    task.cancel()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._room.disconnect()

    async def _stay(self) -> None:
        """Until captions stop, everyone left, or the connection is lost."""
        company = time.monotonic()
        while not self.stop.is_set() and not self._lost.is_set():
            if self._room.remote_participants:
                company = time.monotonic()
            elif time.monotonic() - company > self._job.alone_seconds:
                self.stop.set()  # everyone left: the meeting is over
                break
            await wait_event(self._lost, 1.0)


async def main() -> int:
    owner_only()
    job = CaptionJob.parse(sys.stdin.buffer.read())
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
