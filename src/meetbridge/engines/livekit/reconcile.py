"""Reconciling LiveKit meetings with the server's room list, at start-up and every minute.

A webhook can be lost (meetbridge down for longer than LiveKit's retries, a network cut): a
meeting whose room is gone, or a participant no longer in its room, would then stay open for
ever. What the server lists is the truth; the differences are written to the inbox as
webhook-shaped events (ids ``reconcile-…``) and applied like real ones, so cards, statuses
and ringing follow the same path. Each room is also checked for who may not stay in it
(admission.py): someone removed, someone who left the channel, devices past the limit.
"""

from __future__ import annotations

import asyncio
import secrets

import structlog

from meetbridge.clock import Clock
from meetbridge.domain.meetings import Meeting
from meetbridge.engines.livekit.admission import LiveKitAdmission, check_quietly
from meetbridge.engines.livekit.engine import LiveKitEngine
from meetbridge.engines.livekit.rooms import LiveKitError, LiveKitNotFoundError
from meetbridge.engines.livekit.translator import ENGINE, NODE, SOURCE, synthetic
from meetbridge.engines.livekit.webhooks import EventKind
from meetbridge.ports import EngineUnavailableError
from meetbridge.store import meetings_repo
from meetbridge.store.database import Database
from meetbridge.store.inbox import InboxRecord, InboxWriter

log = structlog.get_logger(__name__)

INTERVAL = 60.0


class LiveKitReconciler:
    def __init__(
        self,
        engine: LiveKitEngine,
        database: Database,
        inbox: InboxWriter,
        clock: Clock,
        admission: LiveKitAdmission | None = None,
    ) -> None:
        self._admission = admission
        self._engine = engine
        self._database = database
        self._inbox = inbox
        self._clock = clock

    async def run(self, interval: float = INTERVAL) -> None:
        while True:
            try:
                await self.reconcile()
            except (LiveKitError, EngineUnavailableError) as exc:
                log.warning("livekit.reconcile_unavailable", error=str(exc))
            except Exception:
                log.exception("livekit.reconcile_failed")
            await asyncio.sleep(interval)

    async def reconcile(self) -> int:
        """Store an event for each difference with the server; returns how many."""
        if self._engine.missing_configuration() is not None:
            return 0
        async with self._database.read() as conn:
            meetings = await meetings_repo.in_progress_of(conn, ENGINE)
        if not meetings:
            return 0
        rooms = self._engine.rooms()
        listed = {room.name for room in await rooms.list_rooms([m.conference for m in meetings])}
        records: list[InboxRecord] = []
        for meeting in meetings:
            if meeting.conference not in listed:
                records.append(self._record(EventKind.ROOM_FINISHED, meeting))
                continue
            try:
                present = {p.sid for p in await rooms.list_participants(meeting.conference)}
            except LiveKitNotFoundError:
                records.append(self._record(EventKind.ROOM_FINISHED, meeting))
                continue
            records += [
                self._record(EventKind.PARTICIPANT_LEFT, meeting, sid)
                for sid in meeting.legs
                if sid not in present
            ]
            if self._admission is not None:
                await check_quietly(self._admission, meeting.conference)
        if records:
            log.info("livekit.reconciled", corrections=len(records))
            await self._inbox.append(records)
        return len(records)

    def _record(self, kind: EventKind, meeting: Meeting, sid: str = "") -> InboxRecord:
        now = self._clock.now()
        event_id = f"reconcile-{secrets.token_hex(8)}"
        body = synthetic(kind, event_id, meeting.conference, now, sid)
        return InboxRecord(SOURCE, NODE, int(now), str(kind), now, body.decode())
