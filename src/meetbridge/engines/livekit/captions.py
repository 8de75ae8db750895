"""Live captions in LiveKit meetings: meetbridge turns them on or off in the room's metadata
(every page shows it, like the Recording badge) and starts one captioner process per captioned
meeting (engines/livekit/captioner.py).

The metadata is the switch, so no table is needed and every replica agrees: the captioner it
names runs, and stops by itself once the metadata no longer names it (turned off by any replica,
or the meeting ended). A captioner that crashes while its captions are on is started again by the
replica that started it, a few times, then captions are turned off with a notice.
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

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import reader
from meetbridge.engines.livekit.engine import LiveKitEngine, room_name
from meetbridge.engines.livekit.recording import spawn_detached
from meetbridge.engines.livekit.rooms import LiveKitError
from meetbridge.engines.livekit.tokens import AccessTokenRequest, listener_grant, mint
from meetbridge.ports import EngineRefusedError, EngineUnavailableError

log = structlog.get_logger(__name__)

CAPTIONER_MODULE = "meetbridge.engines.livekit.captioner"
NOTICE = "meetbridge.notice"  # the page's notice topic (web/CONTRACT.md)
TOKEN_TTL = 6 * 3600  # to connect with; LiveKit keeps the session alive after that
MAX_RESTARTS = 3  # a captioner that keeps crashing will not do better
CAPTIONS_ON = "Live captions are on."
CAPTIONS_OFF = "Live captions are off."
CAPTIONS_FAILED = "Live captions stopped: the captioner keeps failing. Ask an admin."


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
    _running: dict[int, RunningCaptioner] = field(default_factory=dict)  # by pid

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
            identity = f"meetbridge-captioner-{secrets.token_hex(4)}"
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
        """Reap captioners that exited; start again one that crashed while still named."""
        for pid, running in list(self._running.items()):
            if not _exited(pid):
                continue
            del self._running[pid]
            if not running.stopping:
                await self._restart_if_named(running)

    async def _restart_if_named(self, running: RunningCaptioner) -> None:
        try:
            state = await self.engine.captions_state(running.channel_id)
        except (LiveKitError, EngineUnavailableError):
            return
        if state is None or state.captioner != running.identity:
            return  # turned off, or the meeting ended: it left as it should
        if running.restarts >= MAX_RESTARTS:
            with contextlib.suppress(LiveKitError):
                await self.engine.set_captions(running.channel_id, None)
            await self._tell_room(running.channel_id, "captions-stopped", CAPTIONS_FAILED)
            log.error("captions.gave_up", channel_id=running.channel_id)
            return
        log.warning("captions.restarting", channel_id=running.channel_id)
        try:
            pid = await self._spawn(running.channel_id, running.identity)
        except OSError as exc:
            log.error("captions.spawn_failed", channel_id=running.channel_id, error=str(exc))
            return
        self._running[pid] = RunningCaptioner(
            running.channel_id, running.identity, pid, running.restarts + 1
        )

    def pids(self) -> list[int]:
        """The captioners this process started and still runs (tests measure them)."""
        return list(self._running)

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
        await asyncio.to_thread(settings.logs.mkdir, parents=True, exist_ok=True)
        log_path = settings.logs / f"captioner-{channel_id}.log"
        spawn = spawn_detached
        return await asyncio.to_thread(spawn, CAPTIONER_MODULE, orjson.dumps(job), log_path)

    async def _tell_room(self, channel_id: ChannelId, kind: str, text: str) -> None:
        """Best effort: the room may be gone (the meeting ended) or LiveKit unreachable."""
        data = orjson.dumps({"kind": kind, "text": text})
        try:
            await self.engine.rooms().send_data(room_name(channel_id), data, topic=NOTICE)
        except (LiveKitError, EngineUnavailableError) as exc:
            log.info("captions.notice_not_sent", kind=kind, error=str(exc))


def _exited(pid: int) -> bool:
    """Whether a child of this process exited (reaping it); a pid that is not ours: gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
