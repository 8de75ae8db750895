"""The endpoints Mattermost calls: the /meet slash command and message-button actions.

The command is accepted only with the token Mattermost issued for it in that team (checked
against Mattermost's own record when this process does not know it yet); a button
click only with the HMAC meetbridge put in the button's context. Anything else is refused with
a clear message and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.interactions import Invocation, MeetInteractions
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.services.command_auth import CommandTokenCheck
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024


class MattermostEndpoints:
    def __init__(
        self, commands: CommandTokenCheck, interactions: MeetInteractions, buttons: ActionSigner
    ) -> None:
        self._commands = commands
        self._interactions = interactions
        self._buttons = buttons

    def routes(self) -> list[Route]:
        return [
            Route("/api/mattermost/command", self.command, methods=["GET", "POST"]),
            Route("/api/mattermost/action", self.action, methods=["POST"]),
        ]

    async def command(self, request: Request) -> Response:
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_BODY:
                return error_response(413, "request too large")
            form = _form(body.decode("utf-8", errors="replace"))
        else:
            form = {key: request.query_params[key] for key in request.query_params}
        if not await self._authorised(form, request.headers.get("authorization", "")):
            log.warning("mattermost.command_refused", team_id=form.get("team_id", "")[:26])
            return json_response(
                {
                    "response_type": "ephemeral",
                    "text": "This command is not authorised for meetbridge.",
                },
                401,
            )
        user_id, channel_id = form.get("user_id", ""), form.get("channel_id", "")
        if not (is_mattermost_id(user_id) and is_mattermost_id(channel_id)):
            return error_response(400, "user_id and channel_id must be Mattermost ids")
        invocation = Invocation(
            UserId(user_id), ChannelId(channel_id), form.get("team_id", ""), form.get("text", "")
        )
        return json_response(await self._interactions.command(invocation))

    async def _authorised(self, form: dict[str, str], authorization: str) -> bool:
        given = form.get("token", "")
        if not given and authorization.startswith("Token "):
            given = authorization[len("Token ") :]
        token = given.encode("utf-8", errors="replace")
        return await self._commands.is_valid(form.get("team_id", ""), token)

    async def action(self, request: Request) -> Response:
        body = await request.body()
        try:
            click: Any = orjson.loads(body) if len(body) <= MAX_BODY else None
        except orjson.JSONDecodeError:
            click = None
        if not isinstance(click, dict):
            return error_response(400, "expected a Mattermost action request (JSON object)")
        user_id, channel_id = click.get("user_id"), click.get("channel_id")
        if not (
            isinstance(user_id, str) and isinstance(channel_id, str) and is_mattermost_id(user_id)
        ):
            return error_response(400, "user_id and channel_id are required")
        verified = self._buttons.verify(click.get("context"), channel_id, user_id)
        if verified is None:
            log.warning("mattermost.action_refused", channel_id=channel_id[:26])
            return json_response(
                {
                    "error": {"message": "This button is not valid."},
                    "ephemeral_text": "This button is not valid.",
                },
                403,
            )
        return json_response(await self._interactions.click(verified, UserId(user_id)))


def _form(body: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
