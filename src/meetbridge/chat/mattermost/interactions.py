"""What users do in Mattermost: the /meet command and button clicks, answered in Mattermost's
terms (CommandResponse and action-response JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from meetbridge.chat.mattermost.actions import ActionSigner, VerifiedAction
from meetbridge.chat.mattermost.rendering import NOT_AVAILABLE, help_text
from meetbridge.clock import Clock
from meetbridge.domain.commands import MeetCommand, Verb, parse_meet
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.views import describe_duration
from meetbridge.ports import Directory, DirectoryUnavailableError
from meetbridge.services import notifications
from meetbridge.services.admin import AdminService
from meetbridge.services.admin_console import AdminConsole
from meetbridge.services.join import JoinRefusedError, JoinService, Refusal
from meetbridge.store import chat_repo, meetings_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who ran the command where (Mattermost fills these in from its session)."""

    user_id: UserId
    channel_id: ChannelId
    team_id: str
    text: str


def ephemeral(text: str, **extra: Any) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, **extra}


class MeetInteractions:
    def __init__(
        self,
        join: JoinService,
        admin: AdminService,
        directory: Directory,
        database: Database,
        buttons: ActionSigner,
        console: AdminConsole,
        clock: Clock,
        public_url: str,
        wake_outbox: Any,
    ) -> None:
        self._join = join
        self._admin = admin
        self._directory = directory
        self._database = database
        self._buttons = buttons
        self._console = console
        self._clock = clock
        self._public_url = public_url
        self._wake_outbox = wake_outbox

    # --- /meet ---------------------------------------------------------------------------

    async def command(self, invocation: Invocation) -> dict[str, Any]:
        command = parse_meet(invocation.text)
        if command.verb in (Verb.START, Verb.JOIN):
            return await self._go(
                invocation, command.argument if command.verb is Verb.START else ""
            )
        if command.verb is Verb.STATUS:
            return await self._status(invocation)
        if command.verb is Verb.LINK:
            return await self._link(invocation)
        if command.verb is Verb.ADMIN:
            return await self._admin_command(invocation, command)
        return ephemeral(help_text(await self._is_admin(invocation.user_id), command.unknown))

    async def _go(self, invocation: Invocation, topic: str) -> dict[str, Any]:
        try:
            url = await self._join.issue(invocation.channel_id, invocation.user_id, topic)
        except JoinRefusedError as refused:
            return ephemeral(refused.detail)
        return ephemeral(
            f"Opening the meeting… If it does not open, [join the meeting here]({url}) "
            "(this link is yours alone and works for 10 minutes).",
            goto_location=url,
        )

    async def _status(self, invocation: Invocation) -> dict[str, Any]:
        async with self._database.read() as conn:
            meeting = await meetings_repo.current_for_channel(conn, invocation.channel_id)
        if meeting is None:
            return ephemeral("No meeting is in progress in this channel. Start one with `/meet`.")
        return ephemeral(self._describe(meeting))

    def _describe(self, meeting: Meeting) -> str:
        people = meeting.participants()
        running = describe_duration(self._clock.now() - meeting.started_at)
        topic = f" ({meeting.topic})" if meeting.topic else ""
        if not people:
            return f"A meeting{topic} has been running for {running}; nobody is in it right now."
        names = "\n".join(f"* {p.display_name}" for p in people)
        return f"A meeting{topic} has been running for {running}. In it ({len(people)}):\n{names}"

    async def _link(self, invocation: Invocation) -> dict[str, Any]:
        try:
            await self._join.check(invocation.channel_id, invocation.user_id)
        except JoinRefusedError as refused:
            return ephemeral(refused.detail)
        url = f"{self._public_url}/meet/{invocation.channel_id}"
        return ephemeral(
            f"Link to this channel's meeting: {url}\n"
            "It stays the same for every meeting here. Whoever opens it signs in with "
            "Mattermost and must be a member of this channel; it stops working if the channel "
            "is archived."
        )

    async def _admin_command(self, invocation: Invocation, command: MeetCommand) -> dict[str, Any]:
        if not await self._is_admin(invocation.user_id):
            return ephemeral("Only system admins can use `/meet admin`.")
        argument = command.argument.lower()
        if argument in ("allow", "disallow"):
            return ephemeral(
                await self._set_allowed(
                    invocation.channel_id, invocation.user_id, argument == "allow"
                )
            )
        token = self._console.login_link_token(invocation.user_id)
        url = f"{self._public_url}/admin/login?token={token}"
        channel = invocation.channel_id
        return ephemeral(
            f"[Open the meetbridge admin console]({url}) (a personal link, valid for 10 minutes).",
            attachments=[
                {
                    "text": "Meetings in this channel:",
                    "actions": [
                        self._buttons.button(
                            "Allow", "admin_allow", channel, channel, invocation.user_id, "primary"
                        ),
                        self._buttons.button(
                            "Disallow",
                            "admin_disallow",
                            channel,
                            channel,
                            invocation.user_id,
                            "danger",
                        ),
                    ],
                }
            ],
        )

    async def _set_allowed(self, channel_id: ChannelId, user_id: UserId, allowed: bool) -> str:
        await self._admin.set_channel_allowed(channel_id, allowed, f"mattermost:{user_id}")
        return (
            "Meetings are now allowed in this channel."
            if allowed
            else "Meetings are now disallowed in this channel."
        )

    async def _is_admin(self, user_id: UserId) -> bool:
        try:
            user = await self._directory.user(user_id)
        except DirectoryUnavailableError:
            return False
        return user is not None and user.is_system_admin

    # --- buttons -------------------------------------------------------------------------

    async def click(self, action: VerifiedAction, user_id: UserId) -> dict[str, Any]:
        if action.action == "join":
            return await self._click_join(ChannelId(action.channel_id), user_id)
        if action.action == "leave":
            return {
                "ephemeral_text": "To leave the meeting, select Disconnect in the meeting "
                "window (or close it)."
            }
        if action.action in ("ring_join", "ring_ignore"):
            return await self._click_ring(action, user_id)
        if action.action in ("admin_allow", "admin_disallow"):
            if not await self._is_admin(user_id):
                return {"ephemeral_text": "Only system admins can change this."}
            text = await self._set_allowed(
                ChannelId(action.target), user_id, action.action == "admin_allow"
            )
            return {"ephemeral_text": text}
        return {"ephemeral_text": "This button does nothing any more."}

    async def _click_join(self, channel_id: ChannelId, user_id: UserId) -> dict[str, Any]:
        try:
            url = await self._join.issue(channel_id, user_id)
        except JoinRefusedError as refused:
            text = NOT_AVAILABLE if refused.refusal is Refusal.NOT_AVAILABLE else refused.detail
            return {"ephemeral_text": text}
        return {
            "goto_location": url,
            "ephemeral_text": f"Opening the meeting… If it does not open, [join here]({url}).",
        }

    async def _click_ring(self, action: VerifiedAction, user_id: UserId) -> dict[str, Any]:
        if not action.target.isdigit():
            return {"ephemeral_text": "This call is no longer available."}
        async with self._database.read() as conn:
            ring = await chat_repo.get_ring(conn, int(action.target))
        if ring is None or ring.callee_id != user_id:
            return {"ephemeral_text": "This call is no longer available."}
        if action.action == "ring_join":
            return await self._click_join(ring.channel_id, user_id)
        async with self._database.transaction() as conn:
            now = self._clock.now()
            if await chat_repo.set_ring_state(conn, ring.id, chat_repo.IGNORED, now):
                await notifications.enqueue_ring_update(conn, ring.id, now)
        self._wake_outbox()
        return {"ephemeral_text": "Call ignored."}


def looks_like_id(value: object) -> bool:
    return isinstance(value, str) and is_mattermost_id(value)
