"""The inbox: events received from engines, stored before they are acknowledged.

Writes go through :class:`InboxWriter`, which commits everything that arrived while the previous
commit was in flight as one transaction (group commit). Each caller is answered only after the
transaction holding its rows has committed, so an acknowledged event is on disk; batching is what
makes that affordable at thousands of events per second (one fsync per batch, not per event).

Rows are applied later, in id order, by the event applier, which marks them applied in the same
transaction as the state they changed: exactly once, across crashes. A row whose application
fails is marked failed with its error and left for an admin (``meetbridge events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.database import Database, sqlite_connect
from meetbridge.store.tables import inbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class InboxRecord:
    source: str
    node: str
    seq: int
    event: str
    received_at: float
    body: str


@dataclass(frozen=True, slots=True)
class PendingEvent:
    id: int
    source: str
    node: str
    seq: int
    event: str
    body: str
    attempts: int = 0  # how many times applying it failed before (an admin retried it)


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """An event set aside because applying it failed; it waits for an admin's retry."""

    id: int
    source: str
    node: str
    seq: int
    event: str
    received_at: float
    failed_at: float
    error: str
    attempts: int
    body: str


FAILED = "failed"
MAX_ERROR = 2000


class InboxUnavailableError(Exception):
    """The inbox could not store the events; the sender should retry later."""


class InboxRejectedError(Exception):
    """The database refused these very records (a value it cannot store): retrying is useless."""


class InboxWriter:
    """Durable, batched appends to the inbox."""

    def __init__(
        self,
        database: Database,
        max_batch: int = 2000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._database = database
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._waiting: deque[tuple[Sequence[InboxRecord], asyncio.Future[None]]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        """Commit what is already queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def append(self, records: Sequence[InboxRecord]) -> None:
        """Store ``records`` durably; returns once they are committed."""
        if self._closing:
            raise InboxUnavailableError("meetbridge is shutting down")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((records, future))
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        committer = _committer_for(self._database)
        try:
            while True:
                if not self._waiting:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._commit(committer, self._take_batch())
        finally:
            await committer.close()

    def _take_batch(self) -> list[tuple[Sequence[InboxRecord], asyncio.Future[None]]]:
        batch, rows = [], 0
        while self._waiting and (rows == 0 or rows + len(self._waiting[0][0]) <= self._max_batch):
            item = self._waiting.popleft()
            batch.append(item)
            rows += len(item[0])
        return batch

    async def _commit(
        self,
        committer: _Committer,
        batch: list[tuple[Sequence[InboxRecord], asyncio.Future[None]]],
    ) -> None:
        rows = [
            (r.source, r.node, r.seq, r.event, r.received_at, r.body)
            for records, _ in batch
            for r in records
        ]
        try:
            await committer.commit(rows)
        except Exception as exc:
            if len(batch) > 1 and is_refusal(exc):
                # One request's values were refused; commit each request on its own so that
                # only the guilty one fails, not every node that shared its window.
                log.warning("inbox.batch_refused_isolating", requests=len(batch), error=_brief(exc))
                for item in batch:
                    await self._commit(committer, [item])
                return
            self._fail(batch, exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._on_commit is not None:
            self._on_commit(len(rows))

    @staticmethod
    def _fail(
        batch: list[tuple[Sequence[InboxRecord], asyncio.Future[None]]], exc: Exception
    ) -> None:
        error: Exception
        if is_refusal(exc):
            log.warning("inbox.records_refused", error=_brief(exc))
            error = InboxRejectedError(_brief(exc))
        else:
            log.error("inbox.write_failed", error=_brief(exc), requests=len(batch))
            error = InboxUnavailableError(_brief(exc))
        for _, future in batch:
            if not future.done():
                future.set_exception(error)


def _brief(exc: BaseException) -> str:
    # Driver messages quote the statement's parameters: whole event bodies, up to megabytes.
    return printable(str(exc)[:500])


def is_refusal(exc: BaseException) -> bool:
    """Whether the database refused the values themselves (out of range, a NUL PostgreSQL
    cannot store, a constraint), as opposed to failing to store anything at all."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _VALUE_ERRORS):
            return True
        # PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity violation).
        if str(getattr(current, "sqlstate", "") or "")[:2] in ("22", "23"):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


_VALUE_ERRORS = (
    OverflowError,
    UnicodeError,
    ValueError,  # also asyncpg's DataError: a value it cannot encode for PostgreSQL
    TypeError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
)


# Delivered to the replica leading the applier (store/applier_leadership.py) when events commit.
INBOX_CHANNEL = "meetbridge_inbox"
_NOTIFY = text("SELECT pg_notify(:channel, '')")

_Row = tuple[str, str, int, str, float, str]
_COLUMNS = ("source", "node", "seq", "event", "received_at", "body")
_SQLITE_INSERT = (
    "INSERT INTO inbox (source, node, seq, event, received_at, body) VALUES (?, ?, ?, ?, ?, ?)"
)


class _Committer(Protocol):
    async def commit(self, rows: list[_Row]) -> None: ...

    async def close(self) -> None: ...


def _committer_for(database: Database) -> _Committer:
    if database.is_sqlite:
        return _SqliteCommitter(database)
    return _SqlAlchemyCommitter(database)


class _SqliteCommitter:
    """One stdlib sqlite3 connection on one thread: a whole transaction per thread hop.

    Through aiosqlite every statement (BEGIN, INSERT, COMMIT) is a separate hop to its thread;
    doing the three in one hop is what lets a single SQLite file take over 10,000
    acknowledged events per second.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def commit(self, rows: list[_Row]) -> None:
        loop = asyncio.get_running_loop()
        async with self._database.write_lock:
            await loop.run_in_executor(self._executor, self._write, rows)

    def _write(self, rows: list[_Row]) -> None:
        if self._connection is None:
            self._connection = sqlite_connect(self._database.sqlite_path)
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_SQLITE_INSERT, rows)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        def close_connection() -> None:
            if self._connection is not None:
                self._connection.close()

        await asyncio.get_running_loop().run_in_executor(self._executor, close_connection)
        self._executor.shutdown(wait=True)


class _SqlAlchemyCommitter:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: AsyncConnection | None = None

    async def commit(self, rows: list[_Row]) -> None:
        try:
            if self._connection is None:
                self._connection = await self._database.engine.connect()
            async with self._connection.begin():
                await self._connection.execute(
                    insert(inbox), [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
                )
                if self._database.is_postgresql:  # wakes the replica that applies events
                    await self._connection.execute(_NOTIFY, {"channel": INBOX_CHANNEL})
        except Exception as exc:
            if is_refusal(exc):
                raise  # the transaction was rolled back; the connection is still good
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
                self._connection = None
            raise

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


async def pending(conn: AsyncConnection, limit: int) -> list[PendingEvent]:
    rows = await conn.execute(
        select(
            inbox.c.id,
            inbox.c.source,
            inbox.c.node,
            inbox.c.seq,
            inbox.c.event,
            inbox.c.body,
            inbox.c.attempts,
        )
        .where(inbox.c.applied_at.is_(None), inbox.c.failed_at.is_(None))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [PendingEvent(*row) for row in rows]


async def mark_applied(
    conn: AsyncConnection, outcomes: Sequence[tuple[int, str]], now: float
) -> None:
    # One statement per outcome (a handful), not one per row: this runs under the write lock.
    by_outcome: dict[str, list[int]] = {}
    for row_id, outcome in outcomes:
        by_outcome.setdefault(outcome, []).append(row_id)
    for outcome, ids in by_outcome.items():
        await conn.execute(
            update(inbox).where(inbox.c.id.in_(ids)).values(applied_at=now, outcome=outcome)
        )


async def mark_failed(
    conn: AsyncConnection, failures: Sequence[tuple[int, str]], now: float
) -> int:
    """Set events aside with their error; returns how many were still pending."""
    marked = 0
    for row_id, error in failures:
        result = await conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id, inbox.c.applied_at.is_(None), inbox.c.failed_at.is_(None))
            .values(
                failed_at=now,
                outcome=FAILED,
                error=printable(error[:MAX_ERROR])[:MAX_ERROR],
                attempts=inbox.c.attempts + 1,
            )
        )
        marked += result.rowcount
    return marked


def printable(text: str) -> str:
    """An error message safe to store and print: it may quote the hostile value (a NUL...)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


async def failed(conn: AsyncConnection, limit: int = 1000) -> list[FailedEvent]:
    rows = await conn.execute(
        select(
            inbox.c.id,
            inbox.c.source,
            inbox.c.node,
            inbox.c.seq,
            inbox.c.event,
            inbox.c.received_at,
            inbox.c.failed_at,
            inbox.c.error,
            inbox.c.attempts,
            inbox.c.body,
        )
        .where(inbox.c.failed_at.is_not(None))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [FailedEvent(**row._mapping) for row in rows]


async def retry(conn: AsyncConnection, ids: Sequence[int] | None) -> int:
    """Put failed events (``None``: all of them) back in the queue; returns how many."""
    statement = update(inbox).where(inbox.c.failed_at.is_not(None))
    if ids is not None:
        statement = statement.where(inbox.c.id.in_(list(ids)))
    result = await conn.execute(statement.values(failed_at=None, outcome=None))
    return result.rowcount


async def count_failed(conn: AsyncConnection) -> int:
    count = await conn.scalar(select(func.count()).where(inbox.c.failed_at.is_not(None)))
    return int(count or 0)


async def depth(conn: AsyncConnection) -> int:
    count = await conn.scalar(
        select(func.count()).where(inbox.c.applied_at.is_(None), inbox.c.failed_at.is_(None))
    )
    return int(count or 0)


async def prune(conn: AsyncConnection, applied_before: float) -> int:
    """Forget applied events older than the retention window."""
    result = await conn.execute(
        delete(inbox).where(inbox.c.applied_at.is_not(None), inbox.c.applied_at < applied_before)
    )
    return result.rowcount


async def received_mentioning(
    conn: AsyncConnection, source: str, since: float, text: str
) -> float | None:
    """When an event of ``source`` whose body contains ``text`` was first stored after
    ``since`` (``meetbridge doctor``'s webhook round trip), None if none was."""
    value: float | None = await conn.scalar(
        select(func.min(inbox.c.received_at)).where(
            inbox.c.source == source,
            inbox.c.received_at >= since,
            inbox.c.body.contains(text, autoescape=True),
        )
    )
    return value
