"""When Infinity last asked the policy server, for ``meetbridge doctor`` (another process).

The policy path is the hot one, so a request costs a clock read and a comparison; at most once
a minute a task stores the time in the database (where every replica's marks meet).
"""

from __future__ import annotations

import asyncio

import structlog

from meetbridge.clock import Clock
from meetbridge.store import deployment_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

STORE_EVERY = 60.0


class PolicySeen:
    def __init__(self, database: Database, clock: Clock, every: float = STORE_EVERY) -> None:
        self._database = database
        self._clock = clock
        self._every = every
        self._next = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    def mark(self) -> None:
        """An authenticated policy request was answered now."""
        now = self._clock.now()
        if now < self._next:
            return
        self._next = now + self._every
        task = asyncio.get_running_loop().create_task(self._store(now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self, wait: float = 2.0) -> None:
        """At shutdown, before the database closes: let a pending mark finish (or drop it)."""
        pending = list(self._pending)
        if not pending:
            return
        _, unfinished = await asyncio.wait(pending, timeout=wait)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _store(self, at: float) -> None:
        try:
            async with self._database.transaction() as conn:
                await deployment_repo.put(conn, deployment_repo.LAST_POLICY_REQUEST, repr(at))
        except Exception as exc:  # a diagnostic mark must never disturb the answer
            log.warning("pexip.policy_mark_not_stored", error=str(exc))


async def last_policy_request(database: Database) -> float | None:
    """When a policy request was last answered (to within a minute), None if never."""
    async with database.read() as conn:
        value = await deployment_repo.get(conn, deployment_repo.LAST_POLICY_REQUEST)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
