"""What users do in Mattermost: the /meet command and button clicks, answered in Mattermost's
terms (CommandResponse and action-response JSON)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from meetbridge.chat.mattermost.actions import ActionSigner, VerifiedAction
from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostError
from meetbridge.chat.mattermost.rendering import NOT_AVAILABLE, help_text
from meetbridge.clock import Clock
from meetbridge.domain.call_stats import CallStats, describe_stats
from meetbridge.domain.commands import MeetCommand, Verb, mentioned_username, parse_meet
from meetbridge.domain.guest_links import MAX_HOURS, parse_hours
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.markdown import escape_markdown
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.triggers import trigger_user
from meetbridge.domain.views import describe_duration
from meetbridge.engines.registry import EngineRegistry
from meetbridge.ports import (
    AccountSetting,
    AccountSettingError,
    Capability,
    Directory,
    DirectoryUnavailableError,
    EngineRefusedError,
    EngineUnavailableError,
    HostControls,
    MeetingCaptions,
    MeetingRecorder,
    StartAnswer,
    UserAccounts,
)
from meetbridge.services import notifications
from meetbridge.services.admin import AdminService
from meetbridge.services.admin_console import AdminConsole
from meetbridge.services.channel_limits import MAX_LIMIT, ChannelLimits, parse_limit
from meetbridge.services.confirmations import Claim, Confirmations
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
    trigger_id: str = ""  # signed by Mattermost for the user it was issued to


_CHANNEL_NAME = re.compile(r"[a-z0-9_-]{1,64}")  # Mattermost's channel handle characters
NOT_YOURS = "This request could not be confirmed as yours. Run the command again in Mattermost."
NOT_CONFIRMED = (
    "Mattermost could not show the confirmation (the request may have taken too long). "
    "Please try again."
)
ACCOUNT_DISCONNECT, ACCOUNT_SETTINGS = "account_disconnect", "account_settings"


def _hours(hours: int) -> str:
    return f"{hours} hour{'' if hours == 1 else 's'}"


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
        confirmations: Confirmations | None = None,
        dialogs: MattermostClient | None = None,
        engines: EngineRegistry | None = None,
        limits: ChannelLimits | None = None,
        call_stats: Callable[[UserId], Awaitable[CallStats | None]] | None = None,
        guest_links: Callable[[ChannelId, UserId, int], Awaitable[str]] | None = None,
        recorder: MeetingRecorder | None = None,
        captions: MeetingCaptions | None = None,
    ) -> None:
        self._captions = captions
        self._guest_links = guest_links  # makes a Pexip guest link (engines/pexip/guest_links)
        self._recorder = recorder
        self._call_stats = call_stats
        self._limits = limits
        self._join = join
        self._admin = admin
        self._directory = directory
        self._database = database
        self._buttons = buttons
        self._console = console
        self._clock = clock
        self._public_url = public_url
        self._wake_outbox = wake_outbox
        self._confirmations = confirmations
        self._dialogs = dialogs
        self.dialog_url = f"{public_url}/api/mattermost/dialog"
        self._engines = engines

    # --- /meet ---------------------------------------------------------------------------

    async def command(self, invocation: Invocation) -> dict[str, Any]:
        command = parse_meet(invocation.text)
        if command.verb in (Verb.START, Verb.JOIN):
            topic = command.argument if command.verb is Verb.START else ""
            return await self._go(invocation, topic)
        if command.verb is Verb.ENGINE:
            return await self._engine(invocation, command.argument.lower())
        if command.verb is Verb.STATS:
            stats = await self._call_stats(invocation.user_id) if self._call_stats else None
            return ephemeral(describe_stats(stats, self._clock.now()))
        if command.verb is Verb.RECORDING:
            return ephemeral(await self._recording(invocation, command.argument.lower()))
        if command.verb is Verb.CAPTIONS:
            return ephemeral(await self._captions_command(invocation, command.argument.lower()))
        if command.verb is Verb.MAX:
            return ephemeral(await self._max(invocation, command.argument))
        if command.verb is Verb.GUEST_LINK:
            return ephemeral(await self._guest_link(invocation, command.argument))
        if command.verb in (Verb.CONNECT, Verb.DISCONNECT, Verb.SETTINGS):
            return await self._account(invocation, command.verb)
        if command.verb is Verb.STATUS:
            return await self._status(invocation)
        if command.verb is Verb.LINK:
            return await self._link(invocation)
        if command.verb is Verb.ADMIN:
            return await self._admin_command(invocation, command)
        if command.verb in (Verb.LEAVE, Verb.END, Verb.HOST):
            text = await self._meeting_change(
                invocation.trigger_id,
                invocation.user_id,
                invocation.channel_id,
                command.verb,
                command.argument,
            )
            return ephemeral(text)
        return ephemeral(help_text(await self._is_admin(invocation.user_id), command.unknown))

    async def _go(self, invocation: Invocation, topic: str) -> dict[str, Any]:
        try:
            answer = await self._join.begin(invocation.channel_id, invocation.user_id, topic)
        except JoinRefusedError as refused:
            return ephemeral(refused.detail)
        if not answer.join_link:  # the engine answered in its own terms (Zoom)
            return engine_reply(answer, self._buttons, invocation.channel_id, invocation.user_id)
        url = answer.join_link
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
        topic = f" ({escape_markdown(meeting.topic)})" if meeting.topic else ""
        if not people:
            return f"A meeting{topic} has been running for {running}; nobody is in it right now."
        names = "\n".join(f"* {escape_markdown(p.display_name)}" for p in people)
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
                await self._confirm_filter(
                    invocation.trigger_id, invocation.user_id, invocation.channel_id, argument
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
        refused = await self._channel_admin_refusal(channel, user, "choose this channel's engine")
        if refused:
            return ephemeral(refused)
        title = (
            "Use the default engine?" if engine == "default" else f"Use {self._title(engine)} here?"
        )
        return ephemeral(
            await self._confirm(
                invocation.trigger_id,
                Claim(user, "engine", channel, engine),
                _dialog(
                    title,
                    f"Meetings in {await self._channel_mention(channel)} will use it from now on.",
                ),
            )
        )

    async def _max(self, invocation: Invocation, argument: str) -> str:
        limit = parse_limit(argument)
        if limit == "" or self._limits is None:
            return f"Use `/meet max N` (1 to {MAX_LIMIT}) or `/meet max default`."
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._may_set_limit(channel, user)
        if refused:
            return refused
        shown = "the install's limit" if limit is None else f"at most {limit}"
        return await self._confirm(
            invocation.trigger_id,
            Claim(user, "max", channel, "default" if limit is None else str(limit)),
            _dialog(
                "Set participant limit?",
                f"Meetings in {await self._channel_mention(channel)} take {shown} "
                "participants (devices) from now on.",
            ),
        )

    async def _guest_link(self, invocation: Invocation, argument: str) -> str:
        """``/meet guest-link [hours]``: a channel admin asks for an expiring guest link."""
        hours = parse_hours(argument)
        if hours is None:
            return f"Use `/meet guest-link` or `/meet guest-link HOURS` (1 to {MAX_HOURS})."
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._guest_link_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        return await self._confirm(
            invocation.trigger_id,
            Claim(user, "guest_link", channel, str(hours)),
            _dialog(
                "Create a guest link?",
                f"Anyone with the link can join the meeting of {where} as a guest for "
                f"{_hours(hours)}, until an admin revokes it.",
                submit_label="Create link",
            ),
        )

    async def _guest_link_refusal(self, channel: ChannelId, user: UserId) -> str:
        if self._guest_links is None or not await self._engine_can(channel, Capability.GUEST_LINKS):
            return "Guest links are not available for this channel's meeting engine."
        return await self._channel_admin_refusal(channel, user, "make guest links")

    async def _apply_guest_link(self, claim: Claim) -> str | dict[str, Any]:
        hours = parse_hours(claim.target)
        refused = await self._guest_link_refusal(claim.channel_id, claim.user_id)
        if refused or hours is None or self._guest_links is None:
            return {"error": refused or "This confirmation does nothing any more."}
        link = await self._guest_links(claim.channel_id, claim.user_id, hours)
        return (
            f"Guest link for this channel's meeting, valid {_hours(hours)}: {link}\n"
            "Share it only with the guests; revoke it in the admin console (Guest links)."
        )

    async def _may_set_limit(self, channel: ChannelId, user: UserId) -> str:
        return await self._channel_admin_refusal(
            channel, user, "set this channel's participant limit"
        )

    async def _channel_admin_refusal(self, channel: ChannelId, user: UserId, what: str) -> str:
        """Why ``user`` may not do ``what`` in the channel (they are neither a channel admin nor
        a system admin), or "" when they may."""
        try:
            allowed = await self._is_admin(user) or await self._directory.is_channel_admin(
                channel, user
            )
        except DirectoryUnavailableError:
            return "Mattermost cannot be reached right now; please try again in a moment."
        if not allowed:
            return f"Only channel admins and system admins can {what}."
        return ""

    async def _apply_max(self, claim: Claim) -> str | dict[str, Any]:
        limit = parse_limit(claim.target)
        if self._limits is None or limit == "":
            return {"error": "This confirmation does nothing any more."}
        refused = await self._may_set_limit(claim.channel_id, claim.user_id)
        if refused:
            return {"error": refused}
        await self._limits.set_limit(claim.channel_id, limit if isinstance(limit, int) else None)
        if limit is None:
            return "Meetings in this channel now take as many participants as the install allows."
        return f"Meetings in this channel now take at most {limit} participants."

    async def _apply_engine(self, claim: Claim) -> str:
        assert self._engines is not None
        channel, user, engine = claim.channel_id, claim.user_id, claim.target
        refused = await self._channel_admin_refusal(channel, user, "choose this channel's engine")
        if refused:
            return refused
        await self._engines.set_engine(
            channel, None if engine == "default" else engine, f"mattermost:{user}"
        )
        return ""

    # --- leave, end, host: changes to a running meeting --------------------------------------

    async def _meeting_change(
        self, trigger_id: str, user: UserId, channel: ChannelId, verb: Verb, argument: str
    ) -> str:
        """Ask the user to confirm leaving, ending or handing over host (what they may do is
        checked now to answer at once, and again when they confirm)."""
        name, controls = await self._host_controls(channel, verb)
        if controls is None:
            return f"`/meet {verb.value}` is not available for {self._title(name)} meetings."
        try:
            refused = await self._refusal(controls, verb.value, channel, user)
            target, username = "", ""
            if not refused and verb is Verb.HOST:
                refused, target, username = await self._new_host(controls, channel, argument)
        except EngineUnavailableError as exc:
            return str(exc)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        dialogs = {
            Verb.LEAVE: _dialog(
                "Leave the meeting?",
                f"Every device you have in the meeting of {where} leaves it. You can join again.",
                submit_label="Leave",
            ),
            Verb.END: _dialog(
                "End the meeting?",
                f"Everyone in the meeting of {where} is disconnected.",
                submit_label="End meeting",
            ),
            Verb.HOST: _dialog(
                "Hand over host?",
                f"@{escape_markdown(username)} becomes the host of the meeting of {where}.",
                submit_label="Make host",
            ),
        }
        return await self._confirm(
            trigger_id, Claim(user, verb.value, channel, target), dialogs[verb]
        )

    async def _host_controls(
        self, channel: ChannelId, verb: Verb
    ) -> tuple[str, HostControls | None]:
        """The channel's engine name, and its host controls if it can do ``verb``."""
        name = await self._engine_of(channel)
        engine = self._engines.engine(name) if self._engines is not None else None
        if engine is None or not isinstance(engine, HostControls):
            return name, None
        needed = Capability.END_FOR_ALL if verb is Verb.END else Capability.HOST_CONTROLS
        return name, engine if needed in engine.capabilities else None

    async def _refusal(
        self, controls: HostControls, action: str, channel: ChannelId, user: UserId
    ) -> str:
        """Why ``user`` may not do ``action`` in the channel's meeting now ("" when they may)."""
        if action == "leave":
            if user not in await controls.present_users(channel):
                return "You are not in this channel's meeting."
            return ""
        host = await controls.host_of(channel)
        if host is None:
            return "No meeting is in progress in this channel."
        if host == user or await self._is_admin_now(user):
            return ""
        if action == "end":
            return "Only the meeting's host or a system admin can end it."
        if action == "recording":
            return "Only the meeting's host or a system admin can start or stop recording."
        if action == "captions":
            return "Only the meeting's host or a system admin can turn captions on or off."
        return "Only the meeting's host or a system admin can hand host over."

    async def _new_host(
        self, controls: HostControls, channel: ChannelId, argument: str
    ) -> tuple[str, str, str]:
        """(refusal, user id, username) of the member ``argument`` names, who must be present."""
        username = mentioned_username(argument)
        if username is None:
            return "Say who is to be host: `/meet host @username`.", "", ""
        for present in await controls.present_users(channel):
            try:
                info = await self._directory.user(present)
            except DirectoryUnavailableError:
                return "Mattermost cannot be reached right now; please try again.", "", ""
            if info is not None and info.username == username:
                return "", present, username
        return f"@{escape_markdown(username)} is not in this meeting.", "", ""

    async def _apply_meeting_change(self, claim: Claim) -> str | dict[str, Any]:
        verb = Verb(claim.action)
        name, controls = await self._host_controls(claim.channel_id, verb)
        if controls is None:
            return {"error": f"Meetings here use {self._title(name)} now; nothing changed."}
        channel, user = claim.channel_id, claim.user_id
        try:
            refused = await self._refusal(controls, claim.action, channel, user)
            if refused:
                return {"error": refused}
            if verb is Verb.LEAVE:
                await controls.remove_user(channel, user)
                return "You left the meeting. Use `/meet join` to join again."
            if verb is Verb.END:
                await self._end(name, channel)
                return "The meeting was ended for everyone."
            if UserId(claim.target) not in await controls.present_users(channel):
                return {"error": "That member is no longer in the meeting."}
            await controls.hand_host(channel, UserId(claim.target))
        except EngineUnavailableError as exc:
            return {"error": str(exc)}
        return "The host was handed over."

    # --- recording -------------------------------------------------------------------------

    async def _recording(self, invocation: Invocation, argument: str) -> str:
        """Ask the host (or a system admin) to confirm starting or stopping the recording: a
        forged command must not record a meeting in someone's name."""
        if argument not in ("start", "stop"):
            return "Use `/meet recording start` or `/meet recording stop`."
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._recording_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        dialog = (
            _dialog(
                "Start recording?",
                f"Everyone in the meeting of {where} is told it is being recorded; the "
                "recording is posted in the meeting's thread when it stops.",
                submit_label="Start recording",
            )
            if argument == "start"
            else _dialog(
                "Stop recording?",
                f"The recording of the meeting of {where} stops and is posted in its thread.",
                submit_label="Stop recording",
            )
        )
        return await self._confirm(
            invocation.trigger_id, Claim(user, "recording", channel, argument), dialog
        )

    async def _recording_refusal(self, channel: ChannelId, user: UserId) -> str:
        name, controls = await self._host_controls(channel, Verb.HOST)
        engine = self._engines.engine(name) if self._engines is not None else None
        records = engine is not None and Capability.RECORDING in engine.capabilities
        if controls is None or self._recorder is None or not records:
            return f"`/meet recording` is not available for {self._title(name)} meetings."
        try:
            return await self._refusal(controls, "recording", channel, user)
        except EngineUnavailableError as exc:
            return str(exc)

    async def _apply_recording(self, claim: Claim) -> str | dict[str, Any]:
        refused = await self._recording_refusal(claim.channel_id, claim.user_id)
        if refused:
            return {"error": refused}
        assert self._recorder is not None
        try:
            if claim.target == "start":
                return await self._recorder.start(claim.channel_id, claim.user_id)
            return await self._recorder.stop(claim.channel_id)
        except EngineRefusedError as exc:
            return {"error": str(exc)}

    # --- live captions ----------------------------------------------------------------------

    async def _captions_command(self, invocation: Invocation, argument: str) -> str:
        """Ask the host (or a system admin) to confirm turning live captions on or off: like
        every change, a forged command must change nothing in someone's name."""
        if argument not in ("on", "off"):
            return "Use `/meet captions on` or `/meet captions off`."
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._captions_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        dialog = (
            _dialog(
                "Turn on live captions?",
                f"Everyone in the meeting of {where} is told, and can show or hide what is said "
                "as captions with the speaker's name.",
                submit_label="Turn on captions",
            )
            if argument == "on"
            else _dialog(
                "Turn off live captions?",
                f"Captions stop for everyone in the meeting of {where}.",
                submit_label="Turn off captions",
            )
        )
        return await self._confirm(
            invocation.trigger_id, Claim(user, "captions", channel, argument), dialog
        )

    async def _captions_refusal(self, channel: ChannelId, user: UserId) -> str:
        name, controls = await self._host_controls(channel, Verb.HOST)
        engine = self._engines.engine(name) if self._engines is not None else None
        captions = engine is not None and Capability.CAPTIONS in engine.capabilities
        if controls is None or self._captions is None or not captions:
            return f"`/meet captions` is not available for {self._title(name)} meetings."
        try:
            return await self._refusal(controls, "captions", channel, user)
        except EngineUnavailableError as exc:
            return str(exc)

    async def _apply_captions(self, claim: Claim) -> str | dict[str, Any]:
        refused = await self._captions_refusal(claim.channel_id, claim.user_id)
        if refused:
            return {"error": refused}
        assert self._captions is not None
        try:
            if claim.target == "on":
                return await self._captions.start(claim.channel_id, claim.user_id)
            return await self._captions.stop(claim.channel_id)
        except (EngineRefusedError, EngineUnavailableError) as exc:
            return {"error": str(exc)}

    async def _end(self, name: str, channel: ChannelId) -> None:
        engine = self._engines.engine(name) if self._engines is not None else None
        if engine is not None:
            await engine.end(channel)

    async def _is_admin_now(self, user_id: UserId) -> bool:
        """A role that grants host powers: asked of Mattermost now, never from a cache."""
        try:
            user = await self._directory.user_now(user_id)
        except DirectoryUnavailableError:
            return False
        return user is not None and user.is_system_admin

    def _title(self, name: str) -> str:
        return name if self._engines is None else self._engines.title(name)

    async def _engine_can(self, channel: ChannelId, capability: Capability) -> bool:
        engine = self._engines.engine(await self._engine_of(channel)) if self._engines else None
        return engine is not None and capability in engine.capabilities

    async def _engine_of(self, channel: ChannelId) -> str:
        if self._engines is None:
            return ""  # no engines: nothing can be done in any channel
        return await self._engines.engine_for(channel)

    async def _account(self, invocation: Invocation, verb: Verb) -> dict[str, Any]:
        """/meet connect, disconnect and settings: the engine on which users have accounts."""
        found = self._engines.accounts() if self._engines is not None else None
        if found is None:
            return ephemeral("No meeting engine here uses personal accounts.")
        name, accounts = found
        title, user = self._title(name), invocation.user_id
        if not accounts.accounts_ready():
            return ephemeral(f"{title} is not configured on meetbridge yet; ask an admin.")
        if verb is Verb.DISCONNECT:
            claim = Claim(user, ACCOUNT_DISCONNECT, invocation.channel_id, name)
            dialog = _dialog(f"Disconnect {title}?", f"meetbridge forgets your {title} connection.")
            return ephemeral(await self._confirm(invocation.trigger_id, claim, dialog))
        if verb is Verb.CONNECT:
            if accounts.shared_account() and not await self._is_admin(user):
                return ephemeral(
                    f"{title} is connected by an admin for everyone; there is nothing to connect."
                )
            link = accounts.connect_link(user, invocation.channel_id)
            return ephemeral(
                f"[Connect your {title} account]({link}) (a personal link, valid for 10 minutes)."
            )
        # The settings form is itself the confirmation: only the user sees it.
        settings = await accounts.account_settings(user)
        claim = Claim(user, ACCOUNT_SETTINGS, invocation.channel_id, name)
        dialog = _dialog(
            f"{title} settings", "", submit_label="Save", elements=_setting_elements(settings)
        )
        return ephemeral(await self._confirm(invocation.trigger_id, claim, dialog))

    # --- confirmation dialogs ---------------------------------------------------------------

    async def _confirm_filter(
        self, trigger_id: str, user_id: UserId, channel_id: ChannelId, argument: str
    ) -> str:
        allow = argument == "allow"
        channel = await self._channel_mention(channel_id)
        return await self._confirm(
            trigger_id,
            Claim(user_id, f"admin_{argument}", channel_id, ""),
            _dialog(
                "Allow meetings here?" if allow else "Disallow meetings here?",
                f"Members of {channel} will be able to start and join meetings."
                if allow
                else f"Nobody will be able to start or join meetings in {channel}.",
                submit_label="Allow" if allow else "Disallow",
            ),
        )

    async def _channel_mention(self, channel_id: ChannelId) -> str:
        """The channel as ~name, so the dialog says which channel changes (a request may name
        a channel other than the one its user is looking at)."""
        try:
            info = await self._directory.channel(channel_id)
        except DirectoryUnavailableError:
            info = None
        if info is None or not _CHANNEL_NAME.fullmatch(info.name):
            return "this channel"
        return f"~{info.name}"

    async def _confirm(self, trigger_id: str, claim: Claim, dialog: dict[str, Any]) -> str:
        """Show ``dialog`` to the claim's user, through Mattermost, to confirm the change.

        The answer's text ("" once the dialog is shown); the change waits for the submission.
        """
        if trigger_user(trigger_id) != claim.user_id:
            log.warning("mattermost.unconfirmable_request", action=claim.action)
            return NOT_YOURS
        if self._confirmations is None or self._dialogs is None:
            return NOT_CONFIRMED
        dialog = {**dialog, "state": self._confirmations.state_for(claim)}
        try:
            await self._dialogs.open_dialog(trigger_id, self.dialog_url, dialog)
        except MattermostError as exc:
            log.warning("mattermost.dialog_not_opened", action=claim.action, error=str(exc))
            return NOT_CONFIRMED
        return ""

    async def field_errors(self, claim: Claim, submission: dict[str, Any]) -> dict[str, str]:
        """What is wrong with the fields of a submitted form (empty when nothing is)."""
        accounts = self._accounts_of(claim)
        if claim.action != ACCOUNT_SETTINGS or accounts is None:
            return {}
        settings = await accounts.account_settings(claim.user_id)
        return {
            setting.name: "Choose one of the options."
            for setting in settings
            if not _is_option(submission.get(setting.name), setting)
        }

    def _accounts_of(self, claim: Claim) -> UserAccounts | None:
        """The accounts of the engine a claim names (claims made before a switch may not)."""
        found = self._engines.accounts() if self._engines is not None else None
        return found[1] if found is not None and found[0] == claim.target else None

    async def submitted(self, claim: Claim, submission: dict[str, Any]) -> dict[str, Any]:
        """Apply a confirmed claim; Mattermost's dialog-submission answer ({} closes it).

        The permission is checked again: it may have changed while the dialog was open.
        """
        answer = await self._apply(claim, submission)
        if isinstance(answer, str):
            await self._tell(claim, answer)
            return {}
        return answer

    async def _apply(self, claim: Claim, submission: dict[str, Any]) -> str | dict[str, Any]:
        """What to tell the user once applied, or the dialog's error answer."""
        user = claim.user_id
        if claim.action in ("admin_allow", "admin_disallow"):
            if not await self._is_admin(user):
                return {"error": "Only system admins can change this."}
            return await self._set_allowed(claim.channel_id, user, claim.action == "admin_allow")
        if claim.action == "engine" and self._engines is not None:
            refused = await self._apply_engine(claim)
            if refused:
                return {"error": refused}
            current = await self._engines.engine_for(claim.channel_id)
            return f"Meetings in this channel now use {self._title(current)}."
        if claim.action == "max":
            return await self._apply_max(claim)
        if claim.action == "guest_link":
            return await self._apply_guest_link(claim)
        if claim.action in ("leave", "end", "host"):
            return await self._apply_meeting_change(claim)
        if claim.action == "recording":
            return await self._apply_recording(claim)
        if claim.action == "captions":
            return await self._apply_captions(claim)
        accounts = self._accounts_of(claim)
        if claim.action == ACCOUNT_DISCONNECT and accounts is not None:
            is_admin = await self._is_admin(user)
            if accounts.shared_account() and not is_admin:
                title = self._title(claim.target)
                return {"error": f"Only system admins can disconnect the shared {title} account."}
            return await accounts.disconnect(user, is_admin)
        if claim.action == ACCOUNT_SETTINGS and accounts is not None:
            return await self._save_account_settings(accounts, user, submission)
        return {"error": "This confirmation does nothing any more."}

    @staticmethod
    async def _save_account_settings(
        accounts: UserAccounts, user: UserId, submission: dict[str, Any]
    ) -> str | dict[str, Any]:
        said = []
        for setting in await accounts.account_settings(user):
            value = submission.get(setting.name)
            try:
                if not isinstance(value, str):
                    raise AccountSettingError(f"{setting.name} is not a choice")
                said.append(await accounts.save_account_setting(user, setting.name, value))
            except AccountSettingError:
                return {"errors": {setting.name: "Choose one of the options."}}
        return " ".join(said)

    async def _tell(self, claim: Claim, text: str) -> None:
        """Best effort: the change is made whether or not the note reaches the user."""
        if self._dialogs is None:
            return
        try:
            await self._dialogs.post_ephemeral(claim.user_id, claim.channel_id, text)
        except MattermostError as exc:
            log.info("mattermost.confirmation_note_failed", error=str(exc))

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

    async def click(
        self, action: VerifiedAction, user_id: UserId, trigger_id: str = ""
    ) -> dict[str, Any]:
        if action.action == "join":
            return await self._click_join(ChannelId(action.channel_id), user_id)
        if action.action in ("leave", "end"):
            return await self._click_leave_or_end(action, user_id, trigger_id)
        if action.action in ("ring_join", "ring_ignore"):
            return await self._click_ring(action, user_id)
        owner = self._engines.button_owner(action.action) if self._engines is not None else None
        if owner is not None:
            answer = await owner.clicked(
                action.action, action.target, ChannelId(action.channel_id), user_id
            )
            clicked: dict[str, Any] = {"ephemeral_text": answer.text}
            if answer.goto:
                clicked["goto_location"] = answer.goto
            return clicked
        if action.action in ("admin_allow", "admin_disallow"):
            if not await self._is_admin(user_id):
                return {"ephemeral_text": "Only system admins can change this."}
            argument = "allow" if action.action == "admin_allow" else "disallow"
            text = await self._confirm_filter(
                trigger_id, user_id, ChannelId(action.target), argument
            )
            return {"ephemeral_text": text} if text else {}
        return {"ephemeral_text": "This button does nothing any more."}

    async def _click_leave_or_end(
        self, action: VerifiedAction, user_id: UserId, trigger_id: str
    ) -> dict[str, Any]:
        """The card is shared by the channel: the click acts for whoever clicked, and only once
        they confirm in the dialog Mattermost opens for them alone (as /meet leave and end)."""
        channel = ChannelId(action.channel_id)
        verb = Verb.LEAVE if action.action == "leave" else Verb.END
        _, controls = await self._host_controls(channel, verb)
        if verb is Verb.LEAVE and (
            controls is None
            # Someone meetbridge cannot tell apart in the meeting (in Pexip's own web app, with
            # no call tag) or not in it at all: only their own window can leave.
            or user_id not in await controls.present_users(channel)
        ):
            return {
                "ephemeral_text": "To leave the meeting, select Disconnect in the meeting "
                "window (or close it)."
            }
        text = await self._meeting_change(trigger_id, user_id, channel, verb, "")
        return {"ephemeral_text": text} if text else {}

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
            await notifications.ignore_ring(conn, ring.id, user_id, self._clock.now())
        self._wake_outbox()
        return {"ephemeral_text": "Call ignored."}


def engine_reply(
    answer: StartAnswer, buttons: ActionSigner, channel: ChannelId, user: UserId
) -> dict[str, Any]:
    """An engine's own answer to /meet start as an ephemeral command answer."""
    extra: dict[str, Any] = {}
    if answer.goto:
        extra["goto_location"] = answer.goto
    if answer.choices:
        actions = [
            buttons.button(choice.label, choice.action, channel, choice.target, user, choice.style)
            for choice in answer.choices
        ]
        extra["attachments"] = [{"actions": actions}]
    return ephemeral(answer.text, **extra)


def _is_option(value: object, setting: AccountSetting) -> bool:
    return isinstance(value, str) and any(option.value == value for option in setting.options)


def _setting_elements(settings: tuple[AccountSetting, ...]) -> list[dict[str, Any]]:
    """Each account setting as a group of radio buttons, the current choice selected."""
    return [
        {
            "type": "radio",
            "name": setting.name,
            "display_name": setting.label,
            "default": setting.current,
            "options": [{"text": o.text, "value": o.value} for o in setting.options],
        }
        for setting in settings
    ]


def _dialog(
    title: str,
    introduction: str,
    submit_label: str = "Confirm",
    elements: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Mattermost interactive dialog (its title must fit in 24 characters)."""
    assert len(title) <= 24, title
    return {
        "callback_id": "meetbridge",
        "title": title,
        "introduction_text": introduction,
        "elements": elements or [],
        "submit_label": submit_label,
        "notify_on_cancel": False,
    }
