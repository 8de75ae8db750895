"""What users do in Mattermost: the /meet command and button clicks, answered in Mattermost's
terms (CommandResponse and action-response JSON)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import structlog

from meetbridge.chat.mattermost.actions import ActionSigner, VerifiedAction
from meetbridge.chat.mattermost.rendering import NOT_AVAILABLE, help_text
from meetbridge.clock import Clock
from meetbridge.domain.commands import MeetCommand, Verb, parse_meet
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.views import describe_duration
from meetbridge.engines.registry import TITLES, EngineRegistry
from meetbridge.ports import Directory, DirectoryUnavailableError
from meetbridge.services import notifications
from meetbridge.services.admin import AdminService
from meetbridge.services.admin_console import AdminConsole
from meetbridge.services.join import JoinRefusedError, JoinService, Refusal
from meetbridge.services.zoom import Outcome, PmiPreference, StartResult, ZoomService
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
        zoom: ZoomService | None = None,
        engines: EngineRegistry | None = None,
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
        self._zoom = zoom
        self._engines = engines

    # --- /meet ---------------------------------------------------------------------------

    async def command(self, invocation: Invocation) -> dict[str, Any]:
        command = parse_meet(invocation.text)
        if command.verb in (Verb.START, Verb.JOIN):
            topic = command.argument if command.verb is Verb.START else ""
            if self._zoom is not None and await self._engine_of(invocation.channel_id) == "zoom":
                result = await self._zoom.start(invocation.user_id, invocation.channel_id, topic)
                return zoom_reply(
                    self._personal(result, invocation.user_id),
                    self._buttons,
                    invocation.channel_id,
                    invocation.user_id,
                )
            return await self._go(invocation, topic)
        if command.verb is Verb.ENGINE:
            return await self._engine(invocation, command.argument.lower())
        if command.verb in (Verb.CONNECT, Verb.DISCONNECT, Verb.SETTINGS):
            return await self._zoom_account(invocation, command.verb)
        if command.verb is Verb.STATUS:
            return await self._status(invocation)
        if command.verb is Verb.LINK:
            return await self._link(invocation)
        if command.verb is Verb.ADMIN:
            return await self._admin_command(invocation, command)
        return ephemeral(help_text(await self._is_admin(invocation.user_id), command.unknown))

    async def _go(self, invocation: Invocation, topic: str) -> dict[str, Any]:
        try:
            url = await self._join.start(invocation.channel_id, invocation.user_id, topic)
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

    async def _engine(self, invocation: Invocation, engine: str) -> dict[str, Any]:
        names = self._engines.names if self._engines is not None else ()
        if engine not in (*names, "default"):
            choices = ", ".join(f"`/meet engine {name}`" for name in names)
            return ephemeral(f"Use {choices} or `/meet engine default`.")
        channel, user = invocation.channel_id, invocation.user_id
        try:
            allowed = await self._is_admin(user) or await self._directory.is_channel_admin(
                channel, user
            )
        except DirectoryUnavailableError:
            return ephemeral(
                "Mattermost cannot be reached right now; please try again in a moment."
            )
        if not allowed:
            return ephemeral(
                "Only channel admins and system admins can choose this channel's engine."
            )
        if self._engines is None:
            return ephemeral("meetbridge cannot choose engines here.")
        await self._engines.set_engine(
            channel, None if engine == "default" else engine, f"mattermost:{user}"
        )
        current = await self._engines.engine_for(channel)
        return ephemeral(f"Meetings in this channel now use {TITLES.get(current, current)}.")

    async def _engine_of(self, channel: ChannelId) -> str:
        if self._engines is None:
            return "pexip"
        return await self._engines.engine_for(channel)

    async def _zoom_account(self, invocation: Invocation, verb: Verb) -> dict[str, Any]:
        zoom, user = self._zoom, invocation.user_id
        if zoom is None or not zoom.configured():
            return ephemeral("Zoom is not configured on meetbridge yet; ask an admin.")
        is_admin = await self._is_admin(user)
        if verb is Verb.DISCONNECT:
            return ephemeral(await zoom.disconnect(user, is_admin))
        if verb is Verb.CONNECT:
            if zoom.account_level and not is_admin:
                return ephemeral(
                    "Zoom is connected by an admin for everyone; there is nothing to connect."
                )
            link = zoom.connect_link(user, invocation.channel_id)
            return ephemeral(
                f"[Connect your Zoom account]({link}) (a personal link, valid for 10 minutes)."
            )
        current = await zoom.pmi_preference(user)
        shown = {
            "personal": "always your personal meeting ID",
            "new": "always a new meeting ID",
            "ask": "ask each time",
        }
        channel = invocation.channel_id
        return ephemeral(
            "Zoom meetings you start use: "
            + (shown[current.value] if current else "ask each time (not set)"),
            attachments=[
                {
                    "text": "Use your personal meeting ID?",
                    "actions": [
                        self._buttons.button(
                            "Always", "zoompref", channel, "personal", user, "primary"
                        ),
                        self._buttons.button("Never", "zoompref", channel, "new", user),
                        self._buttons.button("Ask each time", "zoompref", channel, "ask", user),
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
        if action.action.startswith("zoom") and self._zoom is not None:
            return await self._click_zoom(action, user_id)
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

    async def _click_zoom(self, action: VerifiedAction, user_id: UserId) -> dict[str, Any]:
        assert self._zoom is not None
        channel = ChannelId(action.channel_id)
        if action.action == "zoomjoin":
            meeting = (
                await self._zoom.meeting(int(action.target)) if action.target.isdigit() else None
            )
            if meeting is None or meeting.ended_at is not None:
                return {"ephemeral_text": "This Zoom meeting has ended."}
            try:
                await self._join.check(channel, user_id)
            except JoinRefusedError as refused:
                return {"ephemeral_text": refused.detail}
            # The answer goes to whoever posted the click: a link only the clicker can open.
            link = self._zoom.join_link(user_id, meeting.id)
            return {"goto_location": link, "ephemeral_text": f"[Join the Zoom meeting]({link})"}
        if action.action == "zoompref":
            await self._zoom.set_pmi_preference(user_id, PmiPreference(action.target))
            return {
                "ephemeral_text": "Saved: "
                + {
                    "personal": "Zoom meetings will use your personal meeting ID.",
                    "new": "Zoom meetings will use a new meeting ID.",
                    "ask": "You will be asked each time.",
                }[action.target]
            }
        use_pmi = {"zoompmi": True, "zoomnew": False}.get(action.action)
        result = await self._zoom.start(
            user_id, channel, action.target, use_pmi=use_pmi, force=action.action == "zoomforce"
        )
        reply = zoom_reply(self._personal(result, user_id), self._buttons, channel, user_id)
        answer: dict[str, Any] = {"ephemeral_text": reply["text"]}
        if reply.get("goto_location"):
            answer["goto_location"] = reply["goto_location"]
        return answer

    def _personal(self, result: StartResult, user_id: UserId) -> StartResult:
        """The reply may reach someone else (a forged command), so it carries meetbridge's
        personal link to the meeting, never Zoom's own URL."""
        if self._zoom is None or result.meeting_row is None:
            return result
        return replace(result, url=self._zoom.join_link(user_id, result.meeting_row))

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


def zoom_reply(
    result: StartResult, buttons: ActionSigner, channel: ChannelId, user: UserId
) -> dict[str, Any]:
    """A Zoom start outcome as an ephemeral command answer."""
    if result.outcome is Outcome.STARTED and result.url:
        return ephemeral(
            f"{result.text} [Join the Zoom meeting]({result.url})", goto_location=result.url
        )
    if result.outcome is Outcome.CONNECT:
        return ephemeral(
            f"{result.text} [Connect your Zoom account]({result.url}); the meeting starts then."
        )
    if result.outcome is Outcome.RECENT:
        return ephemeral(
            f"{result.text} [Join that meeting]({result.url}), or start another one:",
            attachments=[
                {
                    "actions": [
                        buttons.button(
                            "Start a new meeting", "zoomforce", channel, result.topic, user
                        )
                    ]
                }
            ],
        )
    if result.outcome is Outcome.ASK_PMI:
        return ephemeral(
            f"{result.text} You can set a default with `/meet settings`.",
            attachments=[
                {
                    "actions": [
                        buttons.button(
                            "Use my personal meeting ID",
                            "zoompmi",
                            channel,
                            result.topic,
                            user,
                            "primary",
                        ),
                        buttons.button(
                            "Use a new meeting ID", "zoomnew", channel, result.topic, user
                        ),
                    ]
                }
            ],
        )
    return ephemeral(result.text)
