"""``POST /api/livekit/webhook``: LiveKit's signed events, stored durably before the answer.

The body is checked as bytes (JWT signed with the LiveKit API secret, with the body's SHA-256 in
it, valid five minutes) before anything reads it: a forged, stale or altered webhook is a 401
and changes nothing. An event id already received is acknowledged and dropped (LiveKit retries
byte for byte). The applier folds the stored event like any engine's (engines/livekit/
translator.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.clock import Clock
from meetbridge.engines.livekit.engine import LiveKitSettings, channel_of_room
from meetbridge.engines.livekit.translator import NODE, SOURCE
from meetbridge.engines.livekit.webhooks import EventKind, WebhookRefusal, verify_webhook
from meetbridge.store import zoom_repo
from meetbridge.store.database import Database
from meetbridge.store.inbox import InboxRecord, InboxUnavailableError, InboxWriter
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

RECEIPTS_KEPT = 24 * 3600.0  # LiveKit gives up retrying after about 30 s


class LiveKitEndpoints:
    def __init__(
        self,
        settings: Callable[[], LiveKitSettings],
        inbox: InboxWriter,
        database: Database,
        clock: Clock,
        on_joined: Callable[[str, str], Awaitable[None]] | None = None,
        on_finished: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._on_joined = on_joined
        self._on_finished = on_finished
        self._settings = settings
        self._inbox = inbox
        self._database = database
        self._clock = clock

    def routes(self) -> list[Route]:
        return [Route("/api/livekit/webhook", self.webhook, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        settings = self._settings()
        if not settings.complete:
            return error_response(503, "LiveKit is not configured on meetbridge")
        now = self._clock.now()
        keys = {settings.api_key: settings.api_secret}
        event = verify_webhook(body, request.headers.get("authorization"), keys, now)
        if isinstance(event, WebhookRefusal):
            log.warning("livekit.webhook_refused", reason=event.reason)
            return error_response(401, "webhook refused: not signed by this LiveKit")
        if not await self._first_time(event.id, now):
            return json_response({"status": "duplicate"})
        record = InboxRecord(SOURCE, NODE, event.created_at, event.name[:128], now, body.decode())
        try:
            await self._inbox.append([record])
        except InboxUnavailableError:
            await self._forget(event.id)  # so that LiveKit's retry is taken
            return error_response(503, "meetbridge cannot store events right now")
        if event.kind is EventKind.PARTICIPANT_JOINED and event.room and event.participant:
            await self._welcome(event.room.name, event.participant.identity)
        if event.kind is EventKind.ROOM_FINISHED and event.room:
            await self._finished(event.room.name)
        return json_response({"status": "stored"})

    async def _welcome(self, room: str, identity: str) -> None:
        # Best effort: the event is stored; a page without the hands queue still works.
        if self._on_joined is None or channel_of_room(room) is None:
            return
        try:
            await self._on_joined(room, identity)
        except Exception as exc:
            log.warning("livekit.welcome_failed", error=str(exc))

    async def _finished(self, room: str) -> None:
        # Best effort, like the welcome: housekeeping forgets a room's state by age anyway.
        if self._on_finished is None or channel_of_room(room) is None:
            return
        try:
            await self._on_finished(room)
        except Exception as exc:
            log.warning("livekit.room_state_not_forgotten", error=str(exc))

    async def _first_time(self, event_id: str, now: float) -> bool:
        async with self._database.transaction() as conn:
            return await zoom_repo.first_receipt(conn, _receipt(event_id), now, RECEIPTS_KEPT)

    async def _forget(self, event_id: str) -> None:
        async with self._database.transaction() as conn:
            await zoom_repo.forget_receipt(conn, _receipt(event_id))


def _receipt(event_id: str) -> str:
    return f"livekit:{event_id}"[:128]
