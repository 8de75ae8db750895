"""The endpoints Mattermost calls: the /meet slash command and message-button actions.

The command is accepted only with the token Mattermost issued for it in that team (checked
against Mattermost's own record when this process does not know it yet); a button click only
with the HMAC meetbridge put in the button's context. Neither proves who the user is, so changes
wait for a confirmation dialog that Mattermost shows only to that user; its submission comes
back here with the dialog's signed, single-use state. Anything else is refused with a clear
message and changes nothing.
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
from meetbridge.services.confirmations import ConfirmationRefusedError, Confirmations
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024


class MattermostEndpoints:
    def __init__(
        self,
        commands: CommandTokenCheck,
        interactions: MeetInteractions,
        buttons: ActionSigner,
        confirmations: Confirmations,
    ) -> None:
        self._commands = commands
        self._interactions = interactions
        self._buttons = buttons
        self._confirmations = confirmations

    def routes(self) -> list[Route]:
        return [
            Route("/api/mattermost/command", self.command, methods=["GET", "POST"]),
            Route("/api/mattermost/action", self.action, methods=["POST"]),
            Route("/api/mattermost/dialog", self.dialog, methods=["POST"]),
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
            UserId(user_id),
            ChannelId(channel_id),
            form.get("team_id", ""),
            form.get("text", ""),
            form.get("trigger_id", ""),
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
            text = (
                OUTDATED_BUTTON
                if self._buttons.is_outdated(click.get("context"))
                else "This button is not valid."
            )
            return json_response({"error": {"message": text}, "ephemeral_text": text}, 403)
        trigger_id = click.get("trigger_id")
        return json_response(
            await self._interactions.click(
                verified, UserId(user_id), trigger_id if isinstance(trigger_id, str) else ""
            )
        )

    async def dialog(self, request: Request) -> Response:
        """A confirmation dialog submitted (Mattermost forwards it with the submitter's id)."""
        body = await request.body()
        try:
            submitted: Any = orjson.loads(body) if len(body) <= MAX_BODY else None
        except orjson.JSONDecodeError:
            submitted = None
        if not isinstance(submitted, dict):
            return error_response(400, "expected a Mattermost dialog submission (JSON object)")
        if submitted.get("cancelled") is True:
            return json_response({})
        state, user_id = submitted.get("state"), submitted.get("user_id")
        submission = submitted.get("submission")
        if not (isinstance(state, str) and isinstance(user_id, str) and is_mattermost_id(user_id)):
            return error_response(400, "state and user_id are required")
        if not isinstance(submission, dict):
            submission = {}
        try:
            claim = self._confirmations.check(state, user_id)
            # A form with a wrong field stays open and may be submitted again.
            field_errors = await self._interactions.field_errors(claim, submission)
            if field_errors:
                return json_response({"errors": field_errors})
            await self._confirmations.use(claim)
        except ConfirmationRefusedError as refused:
            log.warning("mattermost.dialog_refused", reason=str(refused))
            return json_response({"error": str(refused)}, 403)
        return json_response(await self._interactions.submitted(claim, submission))


OUTDATED_BUTTON = (
    "This button is not valid: it is from before a meetbridge update. Run the command again."
)


def _form(body: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
