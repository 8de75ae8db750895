"""``GET /``: what this meetbridge is connected to and what is left to configure.

For its admins: which engines are set up, whether they answer and what is left to configure is
shown only with a signed-in admin console session (the console's cookie); anyone else learns that
meetbridge runs, nothing more, and costs no call to an engine. Whether an engine answers is asked
at most once every ``PROBE_TTL`` seconds. Admins also see what ``meetbridge doctor`` found, run in
the background at most every five minutes (doctor/cached.py). Never a secret (no keys, tokens,
PINs), only yes/no, setting names and the doctor's lines (which name no secret either)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.doctor.cached import Findings
from meetbridge.engines.registry import EngineRegistry
from meetbridge.ports import Reachability
from meetbridge.services.shared_state import SharedState
from meetbridge.web.pages import render

PROBE_TTL = 30.0
ADMIN_COOKIE = "meetbridge_admin"  # the admin console's session (web/admin.py)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    name: str
    title: str
    default: bool
    missing: str | None
    reachable: str  # "yes", "no" or "not checked"


@dataclass(frozen=True, slots=True)
class MattermostStatus:
    configured: bool
    bot: bool
    command: bool
    events: bool


class StatusEndpoints:
    def __init__(
        self,
        engines: EngineRegistry,
        state: SharedState,
        mattermost: Callable[[], MattermostStatus],
        is_admin_session: Callable[[str | None], Awaitable[bool]],
        doctor: Callable[[], Findings] | None = None,
    ) -> None:
        self._engines = engines
        self._state = state
        self._mattermost = mattermost
        self._is_admin_session = is_admin_session
        self._doctor = doctor
        self._probed: dict[str, tuple[float, bool]] = {}  # engine -> (when, answered)

    def routes(self) -> list[Route]:
        return [Route("/", self.status, methods=["GET"])]

    async def status(self, request: Request) -> Response:
        if not await self._is_admin_session(request.cookies.get(ADMIN_COOKIE)):
            return render("status_public.html")
        engines = [await self._engine_status(name) for name in self._engines.all()]
        mattermost = self._mattermost()
        todo = [
            f"{e.title}: set {e.missing} (admin console or `meetbridge settings set`)"
            for e in engines
            if e.missing
        ]
        if not mattermost.configured:
            todo.append("Mattermost: set MEETBRIDGE_MATTERMOST_URL and MEETBRIDGE_MATTERMOST_TOKEN")
        elif not mattermost.command:
            todo.append("Mattermost: the /meet command is not registered yet (see the log)")
        findings = None if self._doctor is None else self._doctor()
        return render(
            "status.html", engines=engines, mattermost=mattermost, todo=todo, findings=findings
        )

    async def _engine_status(self, name: str) -> EngineStatus:
        engine = self._engines.engine(name)
        assert engine is not None
        missing = engine.missing_configuration()
        reachable = "not checked"
        probe: object = engine  # a second Protocol: isinstance on object (see ports)
        if isinstance(probe, Reachability) and missing is None:
            reachable = "yes" if await self._reachable(name, probe) else "no"
        return EngineStatus(
            name=name,
            title=engine.title,
            default=self._state.settings.default_engine == name,
            missing=missing,
            reachable=reachable,
        )

    async def _reachable(self, name: str, probe: Reachability) -> bool:
        """Whether the engine answers, asked at most once every PROBE_TTL seconds."""
        now = time.monotonic()
        cached = self._probed.get(name)
        if cached is not None and now - cached[0] < PROBE_TTL:
            return cached[1]
        answered = await probe.reachable()
        self._probed[name] = (now, answered)
        return answered
