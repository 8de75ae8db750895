"""The endpoints the companion Mattermost plugin calls, over the signed channel.

Every request must carry the plugin's HMAC (domain/plugin_signature.py) under the shared secret
set in meetbridge (``plugin_shared_secret``); only then is the forwarded ``Mattermost-User-Id``
believed. Past that, the plugin is just another way in: the same checks and the same answers as
``/meet`` (services/join.py), so the meeting card is the same too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.plugin_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_HEADER,
    PluginRequestError,
    SignedRequest,
    verify,
)
from meetbridge.ports import ChatRefusedError, ChatUnavailableError
from meetbridge.services import notifications
from meetbridge.services.join import JoinRefusedError, JoinService
from meetbridge.services.shared_state import SharedState
from meetbridge.store.database import Database
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

MEETING_PATH = "/api/plugin/meeting"
MEETINGS_PATH = "/api/plugin/meetings"
RING_PATH = "/api/plugin/ring"
MAX_RING_ID = 2**53  # what a JSON number carries exactly
MAX_BODY = 64 * 1024
MAX_TOPIC = 1000
SECRET_KEY = "plugin_shared_secret"  # noqa: S105 (the setting's name, not a secret)


class PluginEndpoints:
    def __init__(
        self,
        state: SharedState,
        join: JoinService,
        database: Database,
        clock: Clock,
        bot_id: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """``bot_id``: meetbridge's bot user in Mattermost, whose posts alone the plugin draws
        as meeting cards (anyone can post the custom type with made-up props)."""
        self._state = state
        self._join = join
        self._database = database
        self._clock = clock
        self._bot_id = bot_id

    def routes(self) -> list[Route]:
        return [
            Route(MEETING_PATH, self.meeting, methods=["POST"]),
            Route(MEETINGS_PATH, self.meetings, methods=["POST"]),
            Route(RING_PATH, self.ring, methods=["POST"]),
        ]

    async def meeting(self, request: Request) -> Response:
        """Start or join the channel's meeting for the plugin's user (the call button)."""
        verified = await self._verified(request)
        if isinstance(verified, Response):
            return verified
        user_id, body = verified
        asked = _meeting_request(body)
        if asked is None:
            return error_response(400, "expected {channel_id, topic?} with a Mattermost id")
        channel_id, topic = asked
        try:
            answer = await self._join.begin(channel_id, user_id, topic)
        except JoinRefusedError as refused:
            return error_response(403, refused.detail)
        if answer.join_link:
            return json_response({"join_link": answer.join_link})
        # An engine with its own start flow (Zoom) answered in its own terms.
        return json_response({"text": answer.text, "goto": answer.goto})

    async def meetings(self, request: Request) -> Response:
        """The meetings in progress in the plugin user's channels (the sidebar indicator)."""
        verified = await self._verified(request)
        if isinstance(verified, Response):
            return verified
        user_id, _ = verified
        found = await self._join.in_progress_for(user_id)
        calls = await self._join.ringing_for(user_id)
        return json_response(
            {
                "bot_user_id": await self._bot_user_id(),
                "calls": [
                    {
                        "ring_id": call.ring_id,
                        "channel_id": call.meeting_channel_id,
                        "caller": call.caller,
                        "conversation": call.conversation,
                        "state": call.state.value,
                    }
                    for call in calls
                ],
                "meetings": [
                    {
                        "channel_id": meeting.channel_id,
                        "topic": meeting.topic or "",
                        "participants": len(meeting.participants()),
                    }
                    for meeting in found
                ],
            }
        )

    async def ring(self, request: Request) -> Response:
        """The incoming-call panel's Ignore: the callee declines a call ringing for them."""
        verified = await self._verified(request)
        if isinstance(verified, Response):
            return verified
        user_id, body = verified
        ring_id = _ring_request(body)
        if ring_id is None:
            return error_response(400, 'expected {"ring_id": <number>, "answer": "ignore"}')
        async with self._database.transaction() as conn:
            ignored = await notifications.ignore_ring(conn, ring_id, user_id, self._clock.now())
        if not ignored:
            return error_response(404, "This call is no longer available.")
        return Response(status_code=204)

    async def _bot_user_id(self) -> str:
        if self._bot_id is None:
            return ""
        try:
            return await self._bot_id()
        except (ChatUnavailableError, ChatRefusedError):
            return ""  # asked again on the plugin's next load or reconnection

    async def _verified(self, request: Request) -> tuple[UserId, bytes] | Response:
        """The signed user and the body, or the refusal to send."""
        secret = self._state.secrets.get(SECRET_KEY, "")
        if not secret:  # nothing can be verified: a refusal like a wrong signature (4xx)
            return error_response(401, "the companion plugin is not set up in meetbridge")
        body = await _bounded_body(request)
        if body is None:
            return error_response(413, "request too large")
        headers = request.headers
        user_id = headers.get(USER_HEADER, "")
        signed = SignedRequest(
            request.method,
            request.url.path,
            headers.get(TIMESTAMP_HEADER, ""),
            headers.get(SIGNATURE_HEADER, ""),
            user_id,
            body,
        )
        try:
            verify(secret, signed, self._clock.now())
        except PluginRequestError as refused:
            log.warning("plugin.request_refused", reason=refused.reason)
            return error_response(401, refused.reason)
        if not is_mattermost_id(user_id):
            return error_response(400, "Mattermost-User-Id must be a Mattermost user id")
        return UserId(user_id), body


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _ring_request(body: bytes) -> int | None:
    try:
        asked: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(asked, dict) or asked.get("answer") != "ignore":
        return None
    ring_id = asked.get("ring_id")
    if type(ring_id) is not int or not 0 < ring_id < MAX_RING_ID:  # bool is no ring id
        return None
    return ring_id


def _meeting_request(body: bytes) -> tuple[ChannelId, str] | None:
    try:
        asked: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(asked, dict):
        return None
    channel_id, topic = asked.get("channel_id"), asked.get("topic", "")
    if not (isinstance(channel_id, str) and is_mattermost_id(channel_id)):
        return None
    if not isinstance(topic, str) or len(topic) > MAX_TOPIC:
        return None
    return ChannelId(channel_id), topic.strip()
