"""Recording LiveKit meetings: meetbridge starts, watches and stops one recorder process per
recording (engines/livekit/recorder.py) and hands the finished file to the outbox.

State lives in the database (``recordings``) and in files beside the recording, not in this
process: after a meetbridge restart a recorder still running is watched again (it runs in a
session of its own), and one that died meanwhile is finalised with what it wrote, marked
incomplete. Recorders and their files are local: each recording is supervised by the
replicas on the host that started it (``node``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog

from meetbridge.child_processes import child_environment, private_directory
from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import ENGLISH, DefaultLocale, Messages, english_default, reader
from meetbridge.domain.recording import (
    RecordingLimits,
    Step,
    disk_too_low,
    next_step,
    recording_message,
    reminder_text,
)
from meetbridge.domain.transcript import MANIFEST, parse_manifest
from meetbridge.engines.livekit.engine import LiveKitEngine, room_name
from meetbridge.engines.livekit.rooms import LiveKitError
from meetbridge.engines.livekit.screen import assemble, start_file
from meetbridge.engines.livekit.tokens import AccessTokenRequest, mint, recorder_grant
from meetbridge.ports import EngineRefusedError, EngineUnavailableError
from meetbridge.services.notifications import RecordingFile, enqueue_recording_upload
from meetbridge.store import meetings_repo, recordings_repo
from meetbridge.store.database import Database
from meetbridge.store.recordings_repo import RECORDING, STOPPING, RecordingRow
from meetbridge.store.transcriptions_repo import NewTranscription
from meetbridge.transcription.jobs import Transcriptions

log = structlog.get_logger(__name__)

RECORDER_MODULE = "meetbridge.engines.livekit.recorder"
NOTICE = "meetbridge.notice"  # the page's notice topic (web/CONTRACT.md)
STOP_GRACE = 30.0  # seconds a recorder has to finish after SIGTERM before it is killed
TOKEN_TTL = 6 * 3600  # to connect with; LiveKit keeps the session alive after that
DISK_FULL = ENGLISH("recording.disk_full")  # also the stop reason stored with the recording
CUT_SHORT = ENGLISH("recording.cut_short")


class RecordingRefusedError(EngineRefusedError):
    """Recording cannot start or stop now; the message is for the user."""


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    directory: Path
    limits: RecordingLimits


def recording_unavailable() -> str | None:
    """Why this host cannot record (a missing part), or None."""
    if shutil.which("ffmpeg") is None:
        return reader()("recording.needs_ffmpeg")
    if importlib.util.find_spec("livekit.rtc") is None:  # not livekit-api's namespace alone
        return reader()("recording.needs_sdk")
    return None


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


class LiveKitRecordings:
    def __init__(
        self,
        engine: LiveKitEngine,
        database: Database,
        clock: Clock,
        settings: Callable[[], RecordingSettings],
        wake_outbox: Callable[[], None] = lambda: None,
        free_space: Callable[[Path], int] = free_bytes,
        transcriptions: Transcriptions | None = None,
        default_locale: DefaultLocale = english_default,
    ) -> None:
        self._default_locale = default_locale  # the recording's post is read by many
        self._engine = engine
        self._database = database
        self._clock = clock
        self._settings = settings
        self._wake_outbox = wake_outbox
        self._free_space = free_space
        self._transcriptions = transcriptions
        # Recorders are local processes: a replica on another host must not take one it cannot
        # see for dead.
        self._node = socket.gethostname()
        self._children: set[int] = set()  # pids of the recorders this process started
        self._starting: set[int] = set()  # claimed here, recorder not spawned yet: not dead

    # --- start and stop -------------------------------------------------------------------

    async def is_recording(self, channel_id: ChannelId) -> bool:
        async with self._database.read() as conn:
            return await recordings_repo.active_for_channel(conn, channel_id) is not None

    async def start(self, channel_id: ChannelId, user_id: UserId) -> str:
        """Start recording the channel's meeting; the sentence for the user."""
        missing = recording_unavailable() or self._engine.missing_configuration()
        if missing is not None:
            raise RecordingRefusedError(missing)
        settings = self._settings()
        directory = settings.directory
        await asyncio.to_thread(private_directory, directory)
        if disk_too_low(self._free_space(directory), settings.limits):
            raise RecordingRefusedError(reader()("recording.disk_low"))
        room = room_name(channel_id)
        try:
            if not await self._engine.rooms().list_rooms([room]):
                raise RecordingRefusedError(reader()("meet.nothing_running"))
        except LiveKitError as exc:
            raise RecordingRefusedError(reader()("engine.livekit_unreachable")) from exc
        recording_id = await self._claim(channel_id, user_id, room)
        if recording_id is None:
            raise RecordingRefusedError(reader()("recording.already"))
        self._starting.add(recording_id)
        try:
            await self._spawn(recording_id, room, settings)
        except (OSError, EngineUnavailableError) as exc:
            log.error("recording.spawn_failed", recording=recording_id, error=str(exc))
            await self._fail(recording_id, settings.directory)
            raise RecordingRefusedError(reader()("recording.not_started")) from exc
        finally:
            self._starting.discard(recording_id)
        now_ms = int(self._clock.now() * 1000)
        await self._tell_room(channel_id, "recording-started", "This meeting is being recorded.")
        with contextlib.suppress(LiveKitError):
            await self._engine.set_recording(channel_id, now_ms)
        log.info("recording.started", recording=recording_id, channel_id=channel_id)
        return reader()("recording.started")

    async def _claim(self, channel_id: ChannelId, user_id: UserId, room: str) -> int | None:
        async with self._database.transaction() as conn:
            if await recordings_repo.active_for_channel(conn, channel_id) is not None:
                return None
            meeting = await meetings_repo.current_for_channel(conn, channel_id)
            return await recordings_repo.create(
                conn,
                channel_id,
                meeting.id if meeting is not None else None,
                room,
                user_id,
                self._clock.now(),
                self._node,
            )

    async def _spawn(self, recording_id: int, room: str, settings: RecordingSettings) -> None:
        livekit = self._engine.settings()
        token = mint(
            livekit.api_key,
            livekit.api_secret,
            AccessTokenRequest(
                grant=recorder_grant(room),
                identity=f"meetbridge-recorder-{recording_id}",
                name="Recorder",
                ttl=TOKEN_TTL,
            ),
            self._clock.now(),
        )
        files = files_of(settings.directory, recording_id)
        job: dict[str, object] = {
            "url": livekit.url,
            "token": token,
            "output": str(files.audio),
            "status": str(files.status),
            "screen": str(files.screen),
            "max_seconds": settings.limits.max_seconds + STOP_GRACE,  # meetbridge stops it first
        }
        if self._transcriptions is not None and self._transcriptions.wanted():
            job["speakers"] = str(files.speakers)  # each speaker's own track, for the transcript
        pid = await asyncio.to_thread(_spawn_recorder, orjson.dumps(job), files.log)
        self._children.add(pid)
        async with self._database.transaction() as conn:
            await recordings_repo.change(conn, recording_id, pid=pid, path=str(files.audio))

    async def stop(self, channel_id: ChannelId, reason: str = "") -> str:
        """Ask the channel's recorder to finish; the file follows in the thread."""
        async with self._database.transaction() as conn:
            row = await recordings_repo.active_for_channel(conn, channel_id)
            now = self._clock.now()
            if row is None or not await recordings_repo.stop_requested(conn, row.id, reason, now):
                raise RecordingRefusedError(reader()("recording.not_recording"))
        self._signal(row, signal.SIGTERM)
        log.info("recording.stopping", recording=row.id, reason=reason or "asked")
        return reader()("recording.stopped")

    # --- supervision ----------------------------------------------------------------------

    async def run(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.supervise()
            except Exception:
                log.exception("recording.supervise_failed")
            await asyncio.sleep(interval)

    async def supervise(self) -> None:
        """One round over the running recordings: limits, disk, finished or dead recorders."""
        async with self._database.read() as conn:
            rows = await recordings_repo.active(conn, self._node)
        settings = self._settings()
        for row in rows:
            if row.id in self._starting:
                continue  # its pid is on its way (a row left so by a crash is finalised)
            if not self._alive(row):
                await self._finalise_if_gone(row.id, settings)
            elif row.state == RECORDING:
                await self._check_limits(row, settings)
            elif row.state == STOPPING and self._stopping_too_long(row):
                self._signal(row, signal.SIGKILL)

    async def _check_limits(self, row: RecordingRow, settings: RecordingSettings) -> None:
        channel = ChannelId(row.channel_id)
        if disk_too_low(self._free_space(settings.directory), settings.limits):
            log.warning("recording.disk_low", recording=row.id)
            await self._tell_room(channel, "recording-stopped", DISK_FULL)
            await self._stop_row(row, DISK_FULL)
            return
        step = next_step(self._clock.now() - row.started_at, settings.limits, row.reminded)
        if step is Step.REMIND:
            async with self._database.transaction() as conn:
                await recordings_repo.change(conn, row.id, reminded=True)
            await self._tell_room(channel, "recording-reminder", reminder_text(settings.limits))
        elif step is Step.STOP:
            await self._stop_row(row, "")

    async def _stop_row(self, row: RecordingRow, reason: str) -> None:
        async with self._database.transaction() as conn:
            now = self._clock.now()
            stopping = await recordings_repo.stop_requested(conn, row.id, reason, now)
        if stopping:
            self._signal(row, signal.SIGTERM)

    def _stopping_too_long(self, row: RecordingRow) -> bool:
        # ended_at is when the stop was asked (a row stopped before it was kept: its start).
        asked = row.ended_at if row.ended_at is not None else row.started_at
        return self._clock.now() - asked > STOP_GRACE

    def _alive(self, row: RecordingRow) -> bool:
        if row.pid is None:
            return False
        if row.pid in self._children:
            exited = _exited(row.pid)
            if exited is not None:
                if exited:
                    self._children.discard(row.pid)
                return not exited
        return _is_recorder(row.pid)  # adopted after a restart

    def _signal(self, row: RecordingRow, sig: signal.Signals) -> None:
        if row.pid is None or not self._alive(row):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(row.pid, sig)

    async def _finalise_if_gone(self, recording_id: int, settings: RecordingSettings) -> None:
        """Finalise a recording whose recorder looked gone, once its row, read again, says so
        too (a start may have written the recorder's pid meanwhile)."""
        async with self._database.read() as conn:
            row = await recordings_repo.get(conn, recording_id)
        if row is None or row.state not in recordings_repo.ACTIVE or row.id in self._starting:
            return
        if not self._alive(row):
            await self._finalise(row, settings)

    async def _finalise(self, row: RecordingRow, settings: RecordingSettings) -> None:
        """The recorder is gone: post what it wrote (marked incomplete if it did not finish),
        or clean up if it wrote nothing usable."""
        files = files_of(settings.directory, row.id)
        finished = _status(files.status).get("state") == "finished"
        if not finished:
            await _settled(files.audio)  # a killed recorder's ffmpeg may still be closing it
        seconds = await media_seconds(files.audio)
        channel = ChannelId(row.channel_id)
        with contextlib.suppress(LiveKitError, EngineUnavailableError):
            await self._engine.set_recording(channel, None)
        if seconds is None or seconds <= 0:
            log.error("recording.nothing_recorded", recording=row.id, finished=finished)
            await self._fail(row.id, settings.directory)
            await self._tell_room(channel, "recording-stopped", "The recording failed.")
            return
        texts = Messages(await self._default_locale())
        incomplete = texts("recording.disk_full") if row.stop_reason == DISK_FULL else ""
        if not finished:
            incomplete = texts("recording.cut_short")
        if not finished:
            await _settled(files.screen)
        posted = await _with_screen(files)
        size = _size(posted.path)
        upload = RecordingFile(
            channel_id=row.channel_id,
            meeting_id=row.meeting_id,
            path=str(posted.path),
            filename=f"recording-{row.id}{posted.path.suffix}",
            content_type=posted.content_type,
            message=recording_message(seconds, size, incomplete, texts),
            # The start time too: ids start again in a restored or new database.
            key=f"recording-{row.channel_id}-{row.id}-{int(row.started_at * 1000)}",
            recording_id=row.id,
        )
        transcribe = self._transcriptions is not None and await _has_speakers(files.speakers)
        async with self._database.transaction() as conn:
            await enqueue_recording_upload(conn, upload, self._clock.now())
            await recordings_repo.change(
                conn,
                row.id,
                state=recordings_repo.DONE,
                ended_at=self._clock.now(),
                path=str(posted.path),
                seconds=seconds,
                size_bytes=size,
                incomplete=bool(incomplete),
            )
            if transcribe and self._transcriptions is not None:
                await self._transcriptions.enqueue(
                    conn,
                    NewTranscription(
                        recording_id=row.id,
                        channel_id=row.channel_id,
                        meeting_id=row.meeting_id,
                        speakers_dir=str(files.speakers),
                        key=upload.key.replace("recording-", "transcript-", 1),
                        incomplete=bool(incomplete),
                        node=self._transcriptions.node,
                    ),
                )
        # Only now that the outbox holds the muxed file: a crash before this finalises again.
        if posted.path != files.audio:
            files.audio.unlink(missing_ok=True)
        files.remove_screen()
        self._wake_outbox()
        if transcribe and self._transcriptions is not None:
            self._transcriptions.wake()
        else:
            await asyncio.to_thread(files.remove_speakers)
        files.remove_sidecars()
        await self._tell_room(channel, "recording-stopped", "The recording stopped.")
        log.info("recording.finished", recording=row.id, seconds=seconds, complete=finished)

    async def _fail(self, recording_id: int, directory: Path) -> None:
        async with self._database.transaction() as conn:
            await recordings_repo.change(
                conn, recording_id, state=recordings_repo.FAILED, ended_at=self._clock.now()
            )
        files = files_of(directory, recording_id)
        files.audio.unlink(missing_ok=True)  # a partial file is of no use to anyone
        files.video.unlink(missing_ok=True)
        files.remove_screen()
        await asyncio.to_thread(files.remove_speakers)
        files.remove_sidecars()

    async def _tell_room(self, channel_id: ChannelId, kind: str, text: str) -> None:
        """Best effort: the room may be gone (the meeting ended) or LiveKit unreachable."""
        data = orjson.dumps({"kind": kind, "text": text})
        try:
            await self._engine.rooms().send_data(room_name(channel_id), data, topic=NOTICE)
        except (LiveKitError, EngineUnavailableError) as exc:
            log.info("recording.notice_not_sent", kind=kind, error=str(exc))


@dataclass(frozen=True, slots=True)
class RecordingFiles:
    audio: Path
    status: Path
    log: Path
    speakers: Path  # a directory: each speaker's track and their manifest
    screen: Path  # the live screen share, from its first frame (none without a share)
    video: Path  # the audio and the screen share muxed, when there was a share

    def remove_speakers(self) -> None:
        shutil.rmtree(self.speakers, ignore_errors=True)

    def remove_screen(self) -> None:
        self.screen.unlink(missing_ok=True)
        start_file(self.screen).unlink(missing_ok=True)

    def remove_sidecars(self) -> None:
        self.status.unlink(missing_ok=True)
        self.status.with_suffix(".tmp").unlink(missing_ok=True)
        self.log.unlink(missing_ok=True)


def files_of(directory: Path, recording_id: int) -> RecordingFiles:
    return RecordingFiles(
        audio=directory / f"recording-{recording_id}.ogg",
        status=directory / f"recording-{recording_id}.status.json",
        log=directory / f"recording-{recording_id}.log",
        speakers=directory / f"recording-{recording_id}.speakers",
        screen=directory / f"recording-{recording_id}.screen.webm",
        video=directory / f"recording-{recording_id}.webm",
    )


@dataclass(frozen=True, slots=True)
class PostedMedia:
    path: Path
    content_type: str


async def _with_screen(files: RecordingFiles) -> PostedMedia:
    """The file to post: the mix and the screen share as one WebM when someone shared their
    screen, else the mix alone (also when muxing failed: the audio is not lost for it)."""
    if files.screen.exists() and await assemble(files.audio, files.screen, files.video):
        return PostedMedia(files.video, "video/webm")
    files.video.unlink(missing_ok=True)
    return PostedMedia(files.audio, "audio/ogg")


async def _has_speakers(directory: Path) -> bool:
    """Whether the recorder listed any speaker's track (a manifest with at least one entry)."""
    try:
        raw = await asyncio.to_thread((directory / MANIFEST).read_bytes)
        return bool(parse_manifest(orjson.loads(raw)))
    except (OSError, orjson.JSONDecodeError):
        return False


def _spawn_recorder(job: bytes, log_path: Path) -> int:
    return spawn_detached(RECORDER_MODULE, job, log_path)


def spawn_detached(module: str, job: bytes, log_path: Path, labels: tuple[str, ...] = ()) -> int:
    """Start ``python -m module`` in a session of its own (neither a terminal's signals nor
    meetbridge's end reach it) and return its pid; the job goes on stdin, so the token never
    shows in `ps` (``labels``, on the command line, do: nothing secret there).

    posix_spawn rather than subprocess or asyncio: both treat a child still running when they
    are collected or their loop closes as a leak (asyncio kills it), and a recorder must outlive
    a meetbridge restart."""
    read_end, write_end = os.pipe()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", module, *labels],
            child_environment(),  # it decodes what participants send: none of our secrets
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
                (os.POSIX_SPAWN_CLOSE, write_end),
            ],
            setsid=True,
        )
    finally:
        os.close(read_end)
        os.close(log_fd)
    with os.fdopen(write_end, "wb") as stdin:
        stdin.write(job)
    return pid


def _exited(pid: int) -> bool | None:
    """For a child of this process: whether it exited (reaping it); None for any other pid."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return done == pid


def _status(path: Path) -> dict[str, object]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _size(path: Path) -> int:
    """The file's size, -1 when there is no file."""
    try:
        return path.stat().st_size
    except OSError:
        return -1


async def _settled(path: Path, quiet: float = 0.5, longest: float = 10.0) -> None:
    """Wait until the file stops growing (for ``quiet`` seconds, ``longest`` at most)."""
    last, waited = -1, 0.0
    while waited < longest:
        size = _size(path)
        if size == last:
            return
        last = size
        await asyncio.sleep(quiet)
        waited += quiet


def _is_recorder(pid: int) -> bool:
    """A live recorder process (not a reused pid): its command line names the module."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return RECORDER_MODULE.encode() in command


async def media_seconds(path: Path) -> float | None:
    """The duration ffprobe reads from the file, None when it cannot (missing or empty)."""
    if _size(path) <= 0:
        return None
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries", "format=duration",
        "-of", "default=noprint_wrappers=1:nokey=1", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env=child_environment(),
    )  # fmt: skip
    output, _ = await process.communicate()
    try:
        return float(output.decode().strip())
    except ValueError:
        return None
