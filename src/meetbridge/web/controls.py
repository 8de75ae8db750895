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
from meetbridge.ports import EngineUnavailableError
from meetbridge.web.responses import error_response, json_response

MAX_BODY = 16 * 1024


class ControlEndpoints:
    def __init__(self, controls: MeetingControls) -> None:
        self._controls = controls

    def routes(self) -> list[Route]:
        return [Route("/api/meetings/controls/{action}", self.act, methods=["POST"])]

    async def act(self, request: Request) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not bearer:
            return error_response(401, "This meeting session is not valid any more.")
        body = await request.body()
        try:
            caller = self._controls.caller(bearer)
            parsed = _json_object(body)
            await self._controls.perform(caller, request.path_params["action"], parsed)
        except ControlRefusedError as refused:
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
