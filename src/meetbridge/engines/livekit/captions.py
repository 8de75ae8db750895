"""Live captions in LiveKit meetings: meetbridge turns them on or off in the room's metadata
(every page shows it, like the Recording badge) and starts one captioner process per captioned
meeting (engines/livekit/captioner.py).

The metadata is the switch, so no table is needed and every replica agrees: the captioner it
names runs, and stops by itself once the metadata no longer names it (turned off by any replica,
or the meeting ended). A captioner that crashes while its captions are on is started again, a
few times, then captions are turned off with a notice.

A captioner outlives a meetbridge restart (a session of its own): its command line names its
room and identity, so the restarted meetbridge finds it in /proc and watches it again. One that
died meanwhile is noticed in the room (captions on, its captioner absent for a while) and
started again. Every start names a fresh identity in the metadata first: when two replicas
start one at once, the last write wins and the other captioner leaves, so a room never keeps two.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import structlog

from meetbridge.child_processes import private_directory
from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import reader
from meetbridge.engines.livekit.engine import (
    LiveKitEngine,
    channel_of_room,
    meeting_state,
    room_name,
)
from meetbridge.engines.livekit.recording import spawn_detached
from meetbridge.engines.livekit.rooms import LiveKitError
from meetbridge.engines.livekit.tokens import AccessTokenRequest, listener_grant, mint
from meetbridge.ports import EngineRefusedError, EngineUnavailableError

log = structlog.get_logger(__name__)

CAPTIONER_MODULE = "meetbridge.engines.livekit.captioner"
NOTICE = "meetbridge.notice"  # the page's notice topic (web/CONTRACT.md)
TOKEN_TTL = 6 * 3600  # to connect with; LiveKit keeps the session alive after that
MAX_RESTARTS = 3  # a captioner that keeps crashing will not do better
# Seconds a room's captioner may be missing from the room before a replica that does not run it
# starts another: a fresh captioner loads the model before it joins.
ORPHAN_GRACE = 45.0
ORPHAN_CHECK = 10.0  # seconds between looks at the rooms for captions nobody makes
CAPTIONS_ON = "Live captions are on."
CAPTIONS_OFF = "Live captions are off."
CAPTIONS_FAILED = "Live captions stopped: the captioner keeps failing. Ask an admin."
CAPTIONS_RESTARTED = (
    "Live captions were interrupted (the captioner stopped) and are starting again; what is "
    "said until they are back has no captions."
)


class CaptionsRefusedError(EngineRefusedError):
    """Captions cannot be turned on or off now; the message is for the user."""


@dataclass(frozen=True, slots=True)
class CaptionSettings:
    cache: Path  # where the packaged model is reassembled
    logs: Path  # a log file per captioner
    model: Path | None = None
    model_sha256: str | None = None
    language: str | None = None  # None: detected per speaker
    threads: int = 0


@dataclass(slots=True)
class RunningCaptioner:
    channel_id: ChannelId
    identity: str
    pid: int
    restarts: int = 0
    stopping: bool = False
    adopted: bool = False  # started by an earlier meetbridge: not our child, watched in /proc


def captions_unavailable() -> str | None:
    """Why this host cannot caption (a missing part), or None."""
    if importlib.util.find_spec("livekit.rtc") is None:
        return reader()("captions.needs_sdk")
    if importlib.util.find_spec("faster_whisper") is None:
        return reader()("captions.needs_model")
    return None


@dataclass
class LiveKitCaptions:
    engine: LiveKitEngine
    clock: Clock
    settings: Callable[[], CaptionSettings]
    orphan_grace: float = ORPHAN_GRACE
    room_check: float = ORPHAN_CHECK
    _running: dict[int, RunningCaptioner] = field(default_factory=dict)  # by pid
    _missing_since: dict[str, float] = field(default_factory=dict)  # by captioner identity
    _rooms_checked: float = float("-inf")

    async def is_on(self, channel_id: ChannelId) -> bool:
        try:
            state = await self.engine.captions_state(channel_id)
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc
        return state is not None and state.captioner is not None

    async def start(self, channel_id: ChannelId, user_id: UserId) -> str:
        """Turn captions on in the channel's meeting; the sentence for the user."""
        missing = captions_unavailable() or self.engine.missing_configuration()
        if missing is not None:
            raise CaptionsRefusedError(missing)
        try:
            state = await self.engine.captions_state(channel_id)
            if state is None:
                raise CaptionsRefusedError(reader()("meet.nothing_running"))
            if state.captioner is not None:
                raise CaptionsRefusedError(reader()("captions.already_on"))
            identity = new_identity()
            # Named first: the captioner leaves at once if the metadata does not name it.
            await self.engine.set_captions(channel_id, int(self.clock.now() * 1000), identity)
        except LiveKitError as exc:
            raise CaptionsRefusedError(reader()("engine.livekit_unreachable")) from exc
        try:
            pid = await self._spawn(channel_id, identity)
        except OSError as exc:
            log.error("captions.spawn_failed", channel_id=channel_id, error=str(exc))
            with contextlib.suppress(LiveKitError):
                await self.engine.set_captions(channel_id, None)
            raise CaptionsRefusedError(reader()("captions.not_started")) from exc
        self._running[pid] = RunningCaptioner(channel_id, identity, pid)
        self._missing_since.pop(identity, None)
        await self._tell_room(channel_id, "captions-started", CAPTIONS_ON)
        log.info("captions.started", channel_id=channel_id, user_id=user_id)
        return reader()("captions.started")

    async def stop(self, channel_id: ChannelId) -> str:
        """Turn captions off; the captioner sees it in the metadata and leaves."""
        try:
            state = await self.engine.captions_state(channel_id)
            if state is None or state.captioner is None:
                raise CaptionsRefusedError(reader()("captions.not_on"))
            await self.engine.set_captions(channel_id, None)
        except LiveKitError as exc:
            raise CaptionsRefusedError(reader()("engine.livekit_unreachable")) from exc
        for running in self._running.values():
            if running.channel_id == channel_id:
                running.stopping = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(running.pid, signal.SIGTERM)  # sooner than its metadata event
        await self._tell_room(channel_id, "captions-stopped", CAPTIONS_OFF)
        log.info("captions.stopped", channel_id=channel_id)
        return reader()("captions.stopped")

    # --- supervision ----------------------------------------------------------------------

    async def run(self, interval: float = 2.0) -> None:
        while True:
            try:
                await self.supervise()
            except Exception:
                log.exception("captions.supervise_failed")
            await asyncio.sleep(interval)

    async def supervise(self) -> None:
        """Reap captioners that exited; start again one that crashed while still named; watch
        again those an earlier meetbridge started; start one where captions are on but nobody
        makes them."""
        for pid, running in list(self._running.items()):
            if not self._exited(running):
                continue
            del self._running[pid]
            if not running.stopping:
                await self._restart_if_named(running)
        if self.clock.now() - self._rooms_checked >= self.room_check:
            self._rooms_checked = self.clock.now()
            await self._check_rooms()

    def _exited(self, running: RunningCaptioner) -> bool:
        if running.adopted:
            return not _is_captioner(running.pid, running.identity)
        return _exited(running.pid)

    async def _check_rooms(self) -> None:
        """For every room with captions on whose captioner this process does not watch: watch
        it if it runs on this host (an earlier meetbridge started it); else, if it is not in
        the room either for a while (it died while no meetbridge watched it), start another."""
        try:
            rooms = await self.engine.rooms().list_rooms()
        except (LiveKitError, EngineUnavailableError):
            return
        here = {running.identity for running in self._running.values()}
        local: dict[str, LocalCaptioner] | None = None  # read from /proc once, when needed
        named: set[str] = set()
        now = self.clock.now()
        for room in rooms:
            channel_id, identity = channel_of_room(room.name), meeting_state(room).captioner
            if channel_id is None or identity is None or identity in here:
                continue
            named.add(identity)
            if local is None:
                local = {c.identity: c for c in await asyncio.to_thread(local_captioners)}
            if identity in local:
                self._adopt(local[identity])
            elif await self._needs_no_captioner(channel_id, identity):
                self._missing_since.pop(identity, None)
            elif now - self._missing_since.setdefault(identity, now) >= self.orphan_grace:
                del self._missing_since[identity]
                await self._restart_if_named(RunningCaptioner(channel_id, identity, 0))
        for identity in set(self._missing_since) - named:
            del self._missing_since[identity]  # captions turned off, or the meeting ended

    def _adopt(self, captioner: LocalCaptioner) -> None:
        self._running[captioner.pid] = RunningCaptioner(
            captioner.channel_id, captioner.identity, captioner.pid, adopted=True
        )
        self._missing_since.pop(captioner.identity, None)
        log.info("captions.adopted", channel_id=captioner.channel_id, pid=captioner.pid)

    async def _needs_no_captioner(self, channel_id: ChannelId, identity: str) -> bool:
        """Whether the room has its captioner (another host runs it) or nobody to caption (it
        left an empty room); an error counts as yes: nothing is started on a guess."""
        try:
            present = await self.engine.rooms().list_participants(room_name(channel_id))
        except (LiveKitError, EngineUnavailableError):
            return True
        identities = {participant.identity for participant in present}
        people = {i for i in identities if not i.startswith(CAPTIONER_PREFIX)}
        return identity in identities or not people

    async def _restart_if_named(self, running: RunningCaptioner) -> None:
        try:
            state = await self.engine.captions_state(running.channel_id)
        except (LiveKitError, EngineUnavailableError):
            return
        if state is None or state.captioner != running.identity or state.captions is None:
            return  # turned off, the meeting ended, or another replica took over already
        if running.restarts >= MAX_RESTARTS:
            with contextlib.suppress(LiveKitError):
                await self.engine.set_captions(running.channel_id, None)
            await self._tell_room(running.channel_id, "captions-stopped", CAPTIONS_FAILED)
            log.error("captions.gave_up", channel_id=running.channel_id)
            return
        log.warning("captions.restarting", channel_id=running.channel_id)
        identity = new_identity()
        try:
            # A fresh name, written first: should another replica restart it at the same moment,
            # the metadata keeps one of the two and the other captioner leaves.
            if not await self.engine.set_captions(running.channel_id, state.captions, identity):
                return
            pid = await self._spawn(running.channel_id, identity)
        except LiveKitError:
            return
        except OSError as exc:
            log.error("captions.spawn_failed", channel_id=running.channel_id, error=str(exc))
            return
        self._running[pid] = RunningCaptioner(
            running.channel_id, identity, pid, running.restarts + 1
        )
        await self._tell_room(running.channel_id, "captions-interrupted", CAPTIONS_RESTARTED)

    def pids(self, channel_id: ChannelId | None = None) -> list[int]:
        """The captioners this process started or watches and still run, of one meeting or all
        (tests measure them)."""
        return [
            pid
            for pid, running in self._running.items()
            if channel_id is None or running.channel_id == channel_id
        ]

    async def _spawn(self, channel_id: ChannelId, identity: str) -> int:
        livekit, settings = self.engine.settings(), self.settings()
        token = mint(
            livekit.api_key,
            livekit.api_secret,
            AccessTokenRequest(
                grant=listener_grant(room_name(channel_id)),
                identity=identity,
                name="Captions",
                ttl=TOKEN_TTL,
            ),
            self.clock.now(),
        )
        job = {
            "url": livekit.url,
            "token": token,
            "identity": identity,
            "cache": str(settings.cache),
            "model": None if settings.model is None else str(settings.model),
            "model_sha256": settings.model_sha256,
            "language": settings.language,
            "threads": settings.threads,
        }
        await asyncio.to_thread(private_directory, settings.logs)
        log_path = settings.logs / f"captioner-{channel_id}.log"
        labels = (LABEL, channel_id, identity)  # not secret: how a restarted meetbridge finds it
        return await asyncio.to_thread(
            spawn_detached, CAPTIONER_MODULE, orjson.dumps(job), log_path, labels
        )

    async def _tell_room(self, channel_id: ChannelId, kind: str, text: str) -> None:
        """Best effort: the room may be gone (the meeting ended) or LiveKit unreachable."""
        data = orjson.dumps({"kind": kind, "text": text})
        try:
            await self.engine.rooms().send_data(room_name(channel_id), data, topic=NOTICE)
        except (LiveKitError, EngineUnavailableError) as exc:
            log.info("captions.notice_not_sent", kind=kind, error=str(exc))


CAPTIONER_PREFIX = "meetbridge-captioner-"


def new_identity() -> str:
    return f"{CAPTIONER_PREFIX}{secrets.token_hex(4)}"


LABEL = "--captions"  # before the room and identity on a captioner's command line


@dataclass(frozen=True, slots=True)
class LocalCaptioner:
    pid: int
    channel_id: ChannelId
    identity: str


def local_captioners(proc: Path = Path("/proc")) -> list[LocalCaptioner]:
    """The captioners running on this host, read from their command lines."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile, or is not ours to read
        labelled = captioner_label(argv)
        if labelled is not None:
            found.append(LocalCaptioner(int(entry.name), *labelled))
    return found


def captioner_label(argv: list[bytes]) -> tuple[ChannelId, str] | None:
    """(room's channel, identity) from a captioner's command line, None for any other process."""
    if CAPTIONER_MODULE.encode() not in argv or LABEL.encode() not in argv:
        return None
    at = argv.index(LABEL.encode())
    if len(argv) < at + 3:
        return None
    channel = argv[at + 1].decode(errors="replace")
    identity = argv[at + 2].decode(errors="replace")
    if channel_of_room(room_name(ChannelId(channel))) is None:
        return None
    if not identity.startswith(CAPTIONER_PREFIX):
        return None
    return ChannelId(channel), identity


def _is_captioner(pid: int, identity: str) -> bool:
    """Whether ``pid`` still is that captioner (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    labelled = captioner_label(argv)
    return labelled is not None and labelled[1] == identity


def _exited(pid: int) -> bool:
    """Whether a child of this process exited (reaping it); a pid that is not ours: gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
