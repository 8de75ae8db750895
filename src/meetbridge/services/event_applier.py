"""Applying inbox events to meeting state: in order per node, exactly once.

Each batch is one transaction: read pending events, fold them into the meetings they concern,
save the meetings, the node cursors and the "applied" marks together. A crash anywhere leaves
either all of a batch applied or none of it. On PostgreSQL a transaction-scoped advisory lock
makes replicas take turns, so two of them never apply the same events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import orjson
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox
from meetbridge.domain.aliases import channel_of_conference
from meetbridge.domain.call_tags import TagSigner, user_from_call_tag
from meetbridge.domain.delivery import Delivery, NodeCursor, advance, classify
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import (
    EngineReport,
    LegConnected,
    LegUpdated,
    Meeting,
    MeetingEvent,
    apply_report,
)
from meetbridge.engines.pexip.events import (
    SINK_EVENTS,
    USED_EVENTS,
    Envelope,
    envelope_from_dict,
    to_report,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store import chat_repo, inbox, meetings_repo, pins_repo, sink_nodes_repo
from meetbridge.store.chat_repo import JoinIntent
from meetbridge.store.database import Database
from meetbridge.store.inbox import PendingEvent

log = structlog.get_logger(__name__)

ENGINE = "pexip"
SOURCE = "pexip"
_APPLIER_LOCK = 0x6D62_6170  # "mbap": one applier at a time across replicas

MeetingEventsHook = Callable[[AsyncConnection, Sequence[tuple[int, MeetingEvent]]], Awaitable[None]]
"""Called in the applier's transaction with (meeting id, event) pairs, in order."""

# How long a join link's intent identifies a participant who joined without a call tag
# (the Pexip web app cannot carry one), and who started a meeting.
INTENT_WINDOW = 15 * 60.0


@dataclass
class BatchResult:
    """What one batch did, for metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    unused: int = 0
    not_ours: int = 0
    events: list[tuple[Meeting, MeetingEvent]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.applied + self.duplicates + self.unused + self.not_ours


@dataclass
class _Work:
    """A batch folded in memory, waiting to be written."""

    result: BatchResult
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    cursors: dict[str, NodeCursor] = field(default_factory=dict)
    meetings: list[Meeting] = field(default_factory=list)


class EventApplier:
    def __init__(
        self,
        database: Database,
        state: SharedState,
        box: SecretBox,
        call_tags: TagSigner,
        clock: Clock,
        batch_size: int = 1000,
        on_meeting_events: MeetingEventsHook | None = None,
        on_batch: Callable[[BatchResult], None] | None = None,
        yield_factor: float = 1.0,
    ) -> None:
        self._database = database
        self._state = state
        self._box = box
        self._call_tags = call_tags
        self._clock = clock
        self._batch_size = batch_size
        self._on_meeting_events = on_meeting_events
        self._on_batch = on_batch
        self._wakeup = asyncio.Event()
        self._applying = asyncio.Lock()  # one batch at a time in this process
        self._yield_factor = yield_factor

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, poll_interval: float = 1.0, gather_delay: float = 0.25) -> None:
        """Apply events as they arrive; a poll catches events other replicas stored.

        After a wake-up the applier waits ``gather_delay`` before starting, so that a burst is
        applied in a few large transactions rather than one per acknowledged POST: applying
        shares the process and the database with intake, and intake is the path Infinity waits
        on. A quarter of a second is invisible on a meeting card and nearly doubles intake
        throughput under load (benchmarks/event_sink.py).
        """
        while True:
            try:
                # Keep going while batches come back full (a backlog), but leave the process to
                # intake most of the time: acknowledgements are what Infinity waits for.
                while True:
                    started = time.monotonic()
                    if (await self.apply_batch()).total < self._batch_size:
                        break
                    await asyncio.sleep((time.monotonic() - started) * self._yield_factor)
            except Exception:
                log.exception("event_applier.batch_failed")
                await asyncio.sleep(1.0)
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), poll_interval)
            await asyncio.sleep(gather_delay)

    async def drain(self) -> int:
        """Apply everything pending now (tests and the CLI)."""
        total = 0
        while (count := (await self.apply_batch()).total) > 0:
            total += count
        return total

    async def apply_batch(self) -> BatchResult:
        """Apply up to one batch of pending events; returns what it did."""
        async with self._applying:
            if self._database.is_sqlite:
                result = await self._apply_sqlite()
            else:
                result = await self._apply_shared()
        if result.total and self._on_batch is not None:
            self._on_batch(result)
        return result

    async def _apply_sqlite(self) -> BatchResult:
        # Only this process applies to an embedded database, so the work can be read and
        # computed outside the single write lock; intake waits only for the writes.
        async with self._database.read() as conn:
            work = await self._prepare(conn)
        if work is None:
            return BatchResult()
        async with self._database.transaction() as conn:
            await self._write(conn, work)
        return work.result

    async def _apply_shared(self) -> BatchResult:
        async with self._database.transaction() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPLIER_LOCK})
            work = await self._prepare(conn)
            if work is None:
                return BatchResult()
            await self._write(conn, work)
        return work.result

    async def _prepare(self, conn: AsyncConnection) -> _Work | None:
        """Read a batch and fold it into the state it concerns, in memory."""
        pending = await inbox.pending(conn, self._batch_size)
        if not pending:
            return None
        work = _Work(result=BatchResult())
        cursors = await sink_nodes_repo.load(conn, SOURCE, {event.node for event in pending})
        reports: list[EngineReport] = []
        for row in pending:
            envelope = _envelope(row)
            delivery = classify(cursors.get(row.node), envelope.event, envelope.seq, envelope.time)
            if delivery is Delivery.DUPLICATE:
                work.result.duplicates += 1
                work.outcomes.append((row.id, "duplicate"))
                continue
            cursors[row.node] = work.cursors[row.node] = advance(
                cursors.get(row.node), delivery, envelope.event, envelope.seq, envelope.time
            )
            report = to_report(envelope, self._channel_of, self._user_of)
            work.outcomes.append((row.id, self._outcome(envelope, report, work.result)))
            if report is not None:
                reports.append(report)
        if reports:
            channels = {r.channel_id for r in reports}
            intents = await chat_repo.recent_intents(
                conn, channels, self._clock.now() - INTENT_WINDOW
            )
            reports = [_identify(report, intents) for report in reports]
            current = await meetings_repo.active(conn, ENGINE, channels)
            work.meetings = self._fold(current, reports, work.result)
            for meeting in work.meetings:
                _credit_starter(meeting, intents)
        return work

    async def _write(self, conn: AsyncConnection, work: _Work) -> None:
        now = self._clock.now()
        await meetings_repo.save_all(conn, ENGINE, work.meetings)
        for meeting in work.meetings:
            if meeting.is_over:
                await pins_repo.rotate(conn, self._box, meeting.channel_id, now)
                self._state.forget_pins(meeting.channel_id)
        await sink_nodes_repo.save(conn, SOURCE, work.cursors)
        await inbox.mark_applied(conn, work.outcomes, now)
        if work.result.events and self._on_meeting_events is not None:
            pairs = [(m.id, event) for m, event in work.result.events if m.id is not None]
            await self._on_meeting_events(conn, pairs)

    @staticmethod
    def _outcome(envelope: Envelope, report: EngineReport | None, result: BatchResult) -> str:
        if report is not None:
            result.applied += 1
            return "applied"
        if envelope.event not in USED_EVENTS:
            result.unused += 1
            return "unused"
        if envelope.event in SINK_EVENTS:
            result.applied += 1
            return "applied"
        result.not_ours += 1
        return "not_ours"

    @staticmethod
    def _fold(
        current: dict[ChannelId, Meeting], reports: list[EngineReport], result: BatchResult
    ) -> list[Meeting]:
        touched: dict[int, Meeting] = {}  # by identity: a channel may end and restart in a batch
        for report in reports:
            transition = apply_report(current.get(report.channel_id), report)
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
        return list(touched.values())

    def _channel_of(self, conference: str, tag: str) -> ChannelId | None:
        return channel_of_conference(conference, tag, self._state.settings.alias_prefix)

    def _user_of(self, call_tag: str, name: str, channel_id: ChannelId) -> UserId | None:
        return user_from_call_tag(self._call_tags, call_tag, channel_id) if call_tag else None


def _identify(report: EngineReport, intents: list[JoinIntent]) -> EngineReport:
    """Name a participant who joined without a call tag (the Pexip web app cannot send one)
    after the channel member whose join link, issued recently, carried the same name."""
    if not isinstance(report, LegConnected | LegUpdated):
        return report
    leg = report.leg
    if leg.user_id or not leg.display_name:
        return report
    matches = [
        i
        for i in intents
        if i.channel_id == report.channel_id and i.display_name == leg.display_name
    ]
    if not matches:
        return report
    return replace(report, leg=replace(leg, user_id=matches[-1].user_id))


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
        identified = sorted(
            (a for a in meeting.attendees.values() if a.user_id), key=lambda a: a.first_joined_at
        )
        if identified:
            meeting.started_by = identified[0].user_id
        elif window:
            meeting.started_by = window[0].user_id
    if meeting.topic is None:
        topics = [i.topic for i in window if i.topic]
        if topics:
            meeting.topic = topics[-1]


def _envelope(row: PendingEvent) -> Envelope:
    return envelope_from_dict(orjson.loads(row.body))
