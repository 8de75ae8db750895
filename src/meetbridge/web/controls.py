"""``POST /api/meetings/controls/{action}``: the meeting page's requests (hands, reactions,
chat, host actions), with the bearer token meetbridge gave that device. No cookies: the page
calls with ``credentials: "omit"``, so a cross-site form cannot act for anyone."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.engines.livekit.controls import ControlRefusedError, MeetingControls
from meetbridge.engines.pexip.controls import PexipControlRefusedError, PexipControls
from meetbridge.ports import EngineUnavailableError
from meetbridge.web.responses import error_response, json_response

MAX_BODY = 16 * 1024


class ControlEndpoints:
    def __init__(self, controls: MeetingControls, pexip: PexipControls | None = None) -> None:
        self._controls = controls
        self._pexip = pexip

    def routes(self) -> list[Route]:
        return [Route("/api/meetings/controls/{action}", self.act, methods=["POST"])]

    async def act(self, request: Request) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not bearer:
            return error_response(401, "This meeting session is not valid any more.")
        body = await request.body()
        action = request.path_params["action"]
        try:
            # A Pexip meeting's token, or else a LiveKit one (which says 401 when it is neither).
            pexip = self._pexip.caller(bearer) if self._pexip is not None else None
            caller = None if pexip is not None else self._controls.caller(bearer)
            parsed = _json_object(body)
            if pexip is not None and self._pexip is not None:
                await self._pexip.perform(pexip, action, parsed)
            elif caller is not None:
                await self._controls.perform(caller, action, parsed)
        except (ControlRefusedError, PexipControlRefusedError) as refused:
            return error_response(refused.status, str(refused))
        except EngineUnavailableError as exc:
            return error_response(503, str(exc))
        return json_response({"status": "ok"})


def _json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if len(body) > MAX_BODY:
        raise ControlRefusedError(413, "This request is too large.")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ControlRefusedError(400, "The request is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise ControlRefusedError(400, "The request is not a JSON object.")
    return parsed
