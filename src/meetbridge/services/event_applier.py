"""Applying inbox events to meeting state: in order per node, exactly once.

Each batch is one transaction: read pending events, fold them into the meetings they concern,
save the meetings, the node cursors and the "applied" marks together. A crash anywhere leaves
either all of a batch applied or none of it. On PostgreSQL one replica leads (``Leadership``,
store/applier_leadership.py) and the others do not apply; a transaction-scoped advisory lock on
every batch still makes sure two of them never apply the same events.

One bad event never stops the others. An event that cannot be translated or folded is marked
failed (with its error) in the batch that met it; when writing a batch fails for a reason that
is not the database being unreachable, the batch is applied again one event at a time, and the
event whose write fails is set aside. A failed event does not block later events, of its node
or any other, and does not move its node's cursor. ``meetbridge events retry`` puts it back:
it is then applied to the state as it is by then, without the duplicate check it passed when
it first came, and only to a meeting still in progress in its channel: a retried event that
finds none is marked ``stale`` and changes nothing (a late "participant connected" must not
start a meeting that nobody will ever end).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from sqlalchemy import exc as sql_errors
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox
from meetbridge.domain.delivery import NodeCursor
from meetbridge.domain.ids import ChannelId
from meetbridge.domain.meetings import (
    EngineReport,
    Meeting,
    MeetingEvent,
    apply_report,
)
from meetbridge.ports import EventTranslator
from meetbridge.services.shared_state import SharedState
from meetbridge.store import (
    advisory_locks,
    audit_repo,
    chat_repo,
    inbox,
    meetings_repo,
    pins_repo,
    sink_nodes_repo,
)
from meetbridge.store.chat_repo import JoinIntent
from meetbridge.store.database import Database
from meetbridge.store.inbox import FAILED, FailedEvent, PendingEvent, printable
from meetbridge.waits import wait_event

log = structlog.get_logger(__name__)

STALE = "stale"
# Meetings in progress kept in memory between batches (by id); past this many the memory is
# simply cleared (meetings another replica ended would otherwise stay forever).
KEPT_MEETINGS = 10_000


class Leadership(Protocol):
    """Whether this replica is the one that applies events (PostgreSQL replicas)."""

    async def holds(self) -> bool: ...


MeetingEventsHook = Callable[[AsyncConnection, Sequence[tuple[int, MeetingEvent]]], Awaitable[None]]
"""Called in the applier's transaction with (meeting id, event) pairs, in order."""

# How far back join links are read to credit who started a meeting and its topic. Only a valid
# call tag says who a participant is: a display name is anyone's to choose.
INTENT_WINDOW = 15 * 60.0


@dataclass
class BatchResult:
    """What one batch did, for metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    unused: int = 0
    not_ours: int = 0
    failed: int = 0
    stale: int = 0
    events: list[tuple[Meeting, MeetingEvent]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            self.applied + self.duplicates + self.unused + self.not_ours + self.failed + self.stale
        )

    def count(self, outcome: str) -> None:
        name = {"duplicate": "duplicates"}.get(outcome, outcome)
        setattr(self, name, getattr(self, name) + 1)

    def add(self, other: BatchResult) -> None:
        for name in ("applied", "duplicates", "unused", "not_ours", "failed", "stale"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.events += other.events


@dataclass
class _Work:
    """A batch folded in memory, waiting to be written."""

    result: BatchResult
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    cursors: dict[tuple[str, str], NodeCursor] = field(default_factory=dict)  # (source, node)
    meetings: list[tuple[str, Meeting]] = field(default_factory=list)  # (engine, meeting)

    def fail(self, row_id: int, error: str) -> None:
        self.failures.append((row_id, error))
        self.result.count(FAILED)


class _EventFailed(Exception):
    """Folding this event into a meeting failed: the batch is folded again without it."""

    def __init__(self, row_id: int, error: str) -> None:
        super().__init__(error)
        self.row_id, self.error = row_id, error


class _BatchFailed(Exception):
    """Applying these events failed, and not because the database could not be reached."""

    def __init__(self, row_ids: list[int], error: str) -> None:
        super().__init__(error)
        self.row_ids, self.error = row_ids, error


class EventApplier:
    def __init__(
        self,
        database: Database,
        state: SharedState,
        box: SecretBox,
        translators: Sequence[EventTranslator],
        clock: Clock,
        batch_size: int = 1000,
        on_meeting_events: MeetingEventsHook | None = None,
        on_batch: Callable[[BatchResult], None] | None = None,
        yield_factor: float = 1.0,
        leadership: Leadership | None = None,
    ) -> None:
        self._database = database
        self._state = state
        self._box = box
        # Engines translate their own events; the applier folds domain reports only.
        self._translators = {translator.source: translator for translator in translators}
        self._clock = clock
        self._batch_size = batch_size
        self._on_meeting_events = on_meeting_events
        self._on_batch = on_batch
        self._wakeup = asyncio.Event()
        self._applying = asyncio.Lock()  # one batch at a time in this process
        self._yield_factor = yield_factor
        self._leadership = leadership  # None: the only applier (SQLite)
        # Meetings in progress as this applier last committed them: a batch reads only their
        # row's version, not their legs and attendance (the version says whether another
        # replica changed them since). A batch takes the meetings it folds out of here and
        # puts them back only once its transaction committed, so a failed batch never leaves a
        # half-folded meeting behind.
        self._kept: dict[int, Meeting] = {}
        self._intake_active = False  # events were stored since the last batch started

    def wake(self) -> None:
        self._wakeup.set()
        self._intake_active = True

    async def run(self, poll_interval: float = 1.0, gather_delay: float = 0.25) -> None:
        """Apply events as they arrive; a poll catches events a wake-up missed.

        A backlog is applied batch after batch; while events are still arriving, each full
        batch is followed by a pause as long as it took, so intake keeps at least half the time.

        After a wake-up the applier waits as long as its last batch took (at most
        ``gather_delay``) before starting, so that a burst is applied in a few large
        transactions rather than one per acknowledged POST: applying shares the process and the
        database with intake, and intake is the path Infinity waits on. Under a heavy load the
        wait grows with the batches and nearly doubles intake throughput
        (benchmarks/event_sink.py); under a light one it stays a few milliseconds, which is
        what keeps a card within a blink of its event (benchmarks/card_latency.py).
        """
        took = gather_delay
        while True:
            try:
                # Keep going while batches come back full (a backlog), but leave the process to
                # intake most of the time: acknowledgements are what Infinity waits for.
                while await self._leads():
                    started = time.monotonic()
                    self._intake_active = False
                    total = (await self.apply_batch()).total
                    took = time.monotonic() - started
                    if total < self._batch_size:
                        break
                    # Yield only while events keep coming: once intake is quiet, a backlog
                    # drains at full speed.
                    if self._intake_active:
                        await asyncio.sleep(took * self._yield_factor)
            except Exception:
                log.exception("event_applier.batch_failed")
                await asyncio.sleep(1.0)
            self._wakeup.clear()
            await wait_event(self._wakeup, poll_interval)
            await asyncio.sleep(min(gather_delay, took * self._yield_factor))

    async def _leads(self) -> bool:
        """Whether this process applies now; a replica that does not lead forgets the meetings
        it kept, which the leader is changing."""
        if self._leadership is None:
            return True
        if await self._leadership.holds():
            return True
        self._kept.clear()
        return False

    async def drain(self) -> int:
        """Apply everything pending now (tests and the CLI)."""
        total = 0
        while (count := (await self.apply_batch()).total) > 0:
            total += count
        return total

    async def apply_batch(self) -> BatchResult:
        """Apply up to one batch of pending events; returns what it did."""
        async with self._applying:
            try:
                result = await self._apply(self._batch_size)
            except _BatchFailed as failure:
                log.warning(
                    "event_applier.batch_failed_isolating",
                    events=len(failure.row_ids),
                    error=failure.error,
                )
                result = await self._apply_singly(len(failure.row_ids))
        if result.total and self._on_batch is not None:
            self._on_batch(result)
        return result

    async def _apply(self, limit: int) -> BatchResult:
        attempted: list[int] = []
        try:
            if self._database.is_sqlite:
                return await self._apply_sqlite(limit, attempted)
            return await self._apply_shared(limit, attempted)
        except Exception as exc:
            if not attempted or _is_transient(exc):
                raise  # the database, not an event: try the whole batch again later
            raise _BatchFailed(attempted, _describe(exc)) from exc

    async def _apply_singly(self, count: int) -> BatchResult:
        """Apply the next ``count`` events one per transaction, setting aside any that fail."""
        total = BatchResult()
        for _ in range(count):
            try:
                one = await self._apply(1)
            except _BatchFailed as failure:
                one = await self._set_aside(failure.row_ids[0], failure.error)
            if not one.total:
                break
            total.add(one)
        return total

    async def _set_aside(self, row_id: int, error: str) -> BatchResult:
        log.warning("event_applier.event_failed", inbox_id=row_id, error=error)
        async with self._database.transaction() as conn:
            if not self._database.is_sqlite:
                await advisory_locks.hold_until_commit(conn, advisory_locks.APPLIER_BATCH)
            marked = await inbox.mark_failed(conn, [(row_id, error)], self._clock.now())
        return BatchResult(failed=marked)

    async def _apply_sqlite(self, limit: int, attempted: list[int]) -> BatchResult:
        # Only this process applies to an embedded database, so the work can be read and
        # computed outside the single write lock; intake waits only for the writes.
        async with self._database.read() as conn:
            work = await self._prepare(conn, limit, attempted)
        if work is None:
            return BatchResult()
        async with self._database.transaction() as conn:
            await self._write(conn, work)
        self._keep(work)
        return work.result

    async def _apply_shared(self, limit: int, attempted: list[int]) -> BatchResult:
        async with self._database.transaction() as conn:
            await advisory_locks.hold_until_commit(conn, advisory_locks.APPLIER_BATCH)
            work = await self._prepare(conn, limit, attempted)
            if work is None:
                return BatchResult()
            await self._write(conn, work)
        self._keep(work)
        return work.result

    def _keep(self, work: _Work) -> None:
        """The batch committed: its meetings in progress are current, keep them for the next."""
        if len(self._kept) > KEPT_MEETINGS:
            self._kept.clear()
        for _, meeting in work.meetings:
            if meeting.id is not None and not meeting.is_over:
                self._kept[meeting.id] = meeting

    async def _prepare(
        self, conn: AsyncConnection, limit: int, attempted: list[int]
    ) -> _Work | None:
        """Read a batch and fold it into the state it concerns, in memory.

        Folding changes meetings in place, so when one event's fold fails the whole batch is
        folded again from the stored state, with that event marked failed.
        """
        pending = await inbox.pending(conn, limit)
        attempted.extend(row.id for row in pending)
        if not pending:
            return None
        failed: dict[int, str] = {}
        while True:
            try:
                return await self._fold_batch(conn, pending, failed)
            except _EventFailed as failure:
                log.warning(
                    "event_applier.event_failed", inbox_id=failure.row_id, error=failure.error
                )
                failed[failure.row_id] = failure.error

    async def _fold_batch(
        self, conn: AsyncConnection, pending: list[PendingEvent], failed: dict[int, str]
    ) -> _Work:
        work = _Work(result=BatchResult())
        cursors = await self._load_cursors(conn, pending)
        reports: dict[str, list[tuple[int, EngineReport]]] = {}  # by engine
        retried: set[int] = set()
        for row in pending:
            if row.id in failed:
                work.fail(row.id, failed[row.id])
                continue
            try:
                translator = self._translator(row)
                step = translator.translate(row, cursors.get((row.source, row.node)))
            except Exception as exc:
                failed[row.id] = _describe(exc)
                log.warning("event_applier.event_failed", inbox_id=row.id, error=failed[row.id])
                work.fail(row.id, failed[row.id])
                continue
            if step.cursor is not None:
                key = (row.source, row.node)
                cursors[key] = work.cursors[key] = step.cursor
            work.outcomes.append((row.id, step.outcome))
            work.result.count(step.outcome)
            if step.report is not None:
                reports.setdefault(translator.engine, []).append((row.id, step.report))
                if row.attempts:
                    retried.add(row.id)
        for engine, engine_reports in reports.items():
            await self._fold_engine(conn, work, engine, engine_reports, retried)
        return work

    async def _fold_engine(
        self,
        conn: AsyncConnection,
        work: _Work,
        engine: str,
        reports: list[tuple[int, EngineReport]],
        retried: set[int],
    ) -> None:
        channels = {report.channel_id for _, report in reports}
        intents = await chat_repo.recent_intents(conn, channels, self._clock.now() - INTENT_WINDOW)
        current = await meetings_repo.active(conn, engine, channels, self._kept)
        meetings, stale = self._fold(current, reports, retried, work.result)
        if stale:
            work.outcomes = [(i, STALE if i in stale else o) for i, o in work.outcomes]
            work.result.applied -= len(stale)
            work.result.stale += len(stale)
        for meeting in meetings:
            _credit_starter(meeting, intents)
            work.meetings.append((engine, meeting))

    def _translator(self, row: PendingEvent) -> EventTranslator:
        translator = self._translators.get(row.source)
        if translator is None:
            raise ValueError(f"no engine reads events from {row.source!r}")
        return translator

    async def _load_cursors(
        self, conn: AsyncConnection, pending: list[PendingEvent]
    ) -> dict[tuple[str, str], NodeCursor]:
        cursors: dict[tuple[str, str], NodeCursor] = {}
        for source in {row.source for row in pending}:
            nodes = {row.node for row in pending if row.source == source}
            loaded = await sink_nodes_repo.load(conn, source, nodes)
            cursors.update({(source, node): cursor for node, cursor in loaded.items()})
        return cursors

    async def _write(self, conn: AsyncConnection, work: _Work) -> None:
        now = self._clock.now()
        for engine in {engine for engine, _ in work.meetings}:
            meetings = [meeting for e, meeting in work.meetings if e == engine]
            await meetings_repo.save_all(conn, engine, meetings)
        rotating = {t.engine for t in self._translators.values() if t.rotates_pins}
        for engine, meeting in work.meetings:
            if meeting.is_over and engine in rotating:
                await pins_repo.rotate(conn, self._box, meeting.channel_id, now)
                self._state.forget_pins(meeting.channel_id)
        for source in {source for source, _ in work.cursors}:
            nodes = {node: c for (s, node), c in work.cursors.items() if s == source}
            await sink_nodes_repo.save(conn, source, nodes)
        await inbox.mark_applied(conn, work.outcomes, now)
        await inbox.mark_failed(conn, work.failures, now)
        if work.result.events and self._on_meeting_events is not None:
            pairs = [(m.id, event) for m, event in work.result.events if m.id is not None]
            await self._on_meeting_events(conn, pairs)

    @staticmethod
    def _fold(
        current: dict[ChannelId, Meeting],
        reports: list[tuple[int, EngineReport]],
        retried: set[int],
        result: BatchResult,
    ) -> tuple[list[Meeting], set[int]]:
        """Fold reports into meetings; returns the meetings touched and the retried events
        that found no meeting in progress (stale: folded into nothing)."""
        touched: dict[int, Meeting] = {}  # by identity: a channel may end and restart in a batch
        stale: set[int] = set()
        for row_id, report in reports:
            if row_id in retried and report.channel_id not in current:
                stale.add(row_id)
                continue
            try:
                transition = apply_report(current.get(report.channel_id), report)
            except Exception as exc:
                raise _EventFailed(row_id, _describe(exc)) from exc
            if transition.meeting is not None:
                result.events.extend((transition.meeting, e) for e in transition.events)
            meeting = transition.meeting
            if meeting is None:
                continue
            touched[id(meeting)] = meeting
            if meeting.is_over:
                current.pop(report.channel_id, None)
            else:
                current[report.channel_id] = meeting
        return list(touched.values()), stale


# --- failed events, for admins ---------------------------------------------------------------


async def failed_events(database: Database, limit: int = 1000) -> list[FailedEvent]:
    """Events set aside because applying them failed, oldest first."""
    async with database.read() as conn:
        return await inbox.failed(conn, limit)


async def retry_failed(
    database: Database, ids: Sequence[int] | None, actor: str, clock: Clock
) -> int:
    """Queue failed events (``None``: all) to be applied again; returns how many were queued.

    The applier picks them up before newer events and applies them to the current state (see
    the module docstring); the retry is recorded in the audit log.
    """
    async with database.transaction() as conn:
        count = await inbox.retry(conn, ids)
        if count:
            detail = {"ids": list(ids) if ids is not None else "all", "count": count}
            await audit_repo.record(conn, actor, "events.retry", detail, clock.now())
    return count


def _credit_starter(meeting: Meeting, intents: list[JoinIntent]) -> None:
    """Who started the meeting (its first identified participant, else the first join link)
    and its topic (from the /meet start that led to it)."""
    window = [
        i
        for i in intents
        if i.channel_id == meeting.channel_id
        and meeting.started_at - 300 <= i.issued_at <= meeting.started_at + 60
    ]
    if meeting.started_by is None:
        # Only attendees of this batch can be the first identified one: had an earlier batch
        # seen one, it would have credited them. Reading only these keeps the cost of a batch
        # independent of how long the attendance list has grown.
        changed = (meeting.attendees.get(p) for p in meeting.changed_attendees)
        identified = sorted(
            (a for a in changed if a is not None and a.user_id), key=lambda a: a.first_joined_at
        )
        if identified:
            meeting.started_by = identified[0].user_id
        elif window:
            meeting.started_by = window[0].user_id
    if meeting.topic is None:
        topics = [i.topic for i in window if i.topic]
        if topics:
            meeting.topic = topics[-1]


def _describe(exc: BaseException) -> str:
    return printable(f"{type(exc).__name__}: {exc}"[: inbox.MAX_ERROR])[: inbox.MAX_ERROR]


def _is_transient(exc: BaseException) -> bool:
    """Whether a failure is the database's (unreachable, locked, a serialisation conflict), so
    that the same events should simply be tried again, rather than one event's fault."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_ERRORS):
            return True
        if isinstance(current, sql_errors.DBAPIError) and current.connection_invalidated:
            return True
        # SQLSTATE classes: 08 connection, 40 rollback (serialisation, deadlock), 53
        # insufficient resources, 57 operator intervention (shutdown, cancel).
        if str(getattr(current, "sqlstate", "") or "")[:2] in ("08", "40", "53", "57"):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


_TRANSIENT_ERRORS = (
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.DisconnectionError,
    sql_errors.TimeoutError,
    sqlite3.OperationalError,
    TimeoutError,
    OSError,
)
