"""Which replica applies events on PostgreSQL: the one holding a session-level advisory lock.

Before, every replica took the applier's transaction lock batch by batch, so the lock moved from
replica to replica: each waited for the others' batches, then reloaded the meetings they had
changed instead of using the ones it kept, and two replicas applied fewer events than one.
Now one replica leads: it holds LEADER_LOCK on a connection of its own for as long as it lives.
The others try to take the lead once a second and get it as soon as the leader's connection
closes (its process died, or it lost the database). Each batch still takes the applier's
transaction lock, so two replicas never apply at once even while a lost lead goes unnoticed.

A replica of high priority (MEETBRIDGE_APPLIER_PRIORITY=high, typically one that takes no
traffic, so that applying never delays an acknowledgement) holds CANDIDATE_LOCK shared for as
long as it lives. A replica of normal priority does not take the lead while one is there and
hands the lead over when one appears: it sees that by failing to take CANDIDATE_LOCK exclusively.

Events another replica stores reach the leader by NOTIFY on INBOX_CHANNEL, sent in the inbox
transaction itself (store/inbox.py), so only committed events wake it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store import advisory_locks
from meetbridge.store.database import Database
from meetbridge.store.inbox import INBOX_CHANNEL

log = structlog.get_logger(__name__)

LEADER_LOCK = advisory_locks.APPLIER_LEADER
CANDIDATE_LOCK = advisory_locks.APPLIER_CANDIDATE

# True when a replica of high priority is there: CANDIDATE_LOCK cannot be taken exclusively
# (when it can, it is given back at once).
_HIGH_PRIORITY_PRESENT = (
    "SELECT CASE WHEN pg_try_advisory_lock(:key) THEN NOT pg_advisory_unlock(:key) ELSE true END"
)


class ApplierLeadership:
    """This replica's claim to apply events. ``holds()`` is called between batches."""

    def __init__(
        self,
        database: Database,
        on_inbox: Callable[[], None],
        high_priority: bool = False,
        retry_interval: float = 1.0,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._on_inbox = on_inbox
        self._high_priority = high_priority
        self._retry_interval = retry_interval
        self._check_interval = check_interval
        self._monotonic = monotonic
        self._conn: AsyncConnection | None = None
        self._candidate = False  # high priority: CANDIDATE_LOCK is held shared
        self._next_try = 0.0
        self._next_check = 0.0
        self.leading = False

    async def holds(self) -> bool:
        """Whether this replica leads now. A free lead is taken (tried at most once per retry
        interval); a held one is checked (at most once per check interval) by a round trip on
        its connection, so a lead whose connection broke is given up, not assumed."""
        now = self._monotonic()
        try:
            if self.leading:
                if now >= self._next_check:
                    self._next_check = now + self._check_interval
                    await self._check_lead()
                return self.leading
            if now < self._next_try:
                return False
            self._next_try = now + self._retry_interval
            return await self._try_to_lead()
        except Exception as exc:
            log.warning("event_applier.leadership_lost", error=str(exc)[:200])
            await self.release()
            return False

    async def release(self) -> None:
        """Give the lead up (shutdown, or its connection failed): the connection is discarded,
        never returned to the pool, where it would go on holding the locks."""
        conn, self._conn = self._conn, None
        self.leading = self._candidate = False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def _try_to_lead(self) -> bool:
        if self._conn is None:
            self._conn = await self._database.engine.connect()
        if self._high_priority and not self._candidate:
            # Fails only while a normal replica is looking: then again at the next try.
            sql = "SELECT pg_try_advisory_lock_shared(:key)"
            self._candidate = bool(await self._round_trip(sql, key=CANDIDATE_LOCK))
        elif not self._high_priority and await self._round_trip(
            _HIGH_PRIORITY_PRESENT, key=CANDIDATE_LOCK
        ):
            return False
        if not await self._round_trip("SELECT pg_try_advisory_lock(:key)", key=LEADER_LOCK):
            return False
        await (await self._listener()).add_listener(INBOX_CHANNEL, self._notified)
        self.leading = True
        self._next_check = self._monotonic() + self._check_interval
        log.info("event_applier.leading", high_priority=self._high_priority)
        self._on_inbox()  # events may have waited for a leader
        return True

    async def _check_lead(self) -> None:
        """The connection still answers; a normal leader hands over to a high-priority one."""
        if self._high_priority:
            await self._round_trip("SELECT 1")
            return
        if not await self._round_trip(_HIGH_PRIORITY_PRESENT, key=CANDIDATE_LOCK):
            return
        await (await self._listener()).remove_listener(INBOX_CHANNEL, self._notified)
        await self._round_trip("SELECT pg_advisory_unlock(:key)", key=LEADER_LOCK)
        self.leading = False
        log.info("event_applier.lead_handed_over")

    async def _listener(self) -> Any:
        """The driver's own connection (asyncpg), which delivers notifications."""
        assert self._conn is not None
        raw = await self._conn.get_raw_connection()
        return raw.driver_connection

    async def _round_trip(self, sql: str, **params: Any) -> Any:
        """One statement in its own short transaction: a session lock outlives it, and an open
        transaction left idle would hold back PostgreSQL's vacuum."""
        assert self._conn is not None
        value = await self._conn.scalar(text(sql), params)
        await self._conn.commit()
        return value

    def _notified(self, *_: object) -> None:
        self._on_inbox()
