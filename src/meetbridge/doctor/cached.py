"""The doctor's findings for the status page: run in the background, at most every few
minutes, so a page view never waits for a check (the webhook round trip alone takes up to 10 s)
and admins reloading the page do not make LiveKit rooms one after another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from meetbridge.doctor.results import CheckResult

log = structlog.get_logger(__name__)

REFRESH_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class Findings:
    results: Sequence[CheckResult]  # empty until the first run ends
    checked_at: float | None  # wall-clock time of the last run's end
    running: bool


class CachedDoctor:
    def __init__(
        self,
        diagnose: Callable[[], Awaitable[list[CheckResult]]],
        refresh_after: float = REFRESH_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._diagnose = diagnose
        self._refresh_after = refresh_after
        self._clock = clock
        self._results: list[CheckResult] = []
        self._checked_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    def findings(self) -> Findings:
        """What the last run found; starts a new run when that is old (or there is none)."""
        stale = self._checked_at is None or self._clock() - self._checked_at > self._refresh_after
        if stale and not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return Findings(tuple(self._results), self._checked_at, self.running)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        try:
            self._results = await self._diagnose()
        except Exception:
            log.exception("doctor.run_failed")
        self._checked_at = self._clock()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
