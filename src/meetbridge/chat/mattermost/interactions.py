"""What users do in Mattermost: the /meet command and button clicks, answered in Mattermost's
terms (CommandResponse and action-response JSON)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from meetbridge.chat.mattermost.actions import ActionSigner, VerifiedAction
from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostError
from meetbridge.chat.mattermost.rendering import help_text
from meetbridge.clock import Clock
from meetbridge.domain.call_stats import CallStats, describe_stats
from meetbridge.domain.commands import MeetCommand, Verb, mentioned_username, parse_meet
from meetbridge.domain.guest_links import MAX_HOURS, parse_hours
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.markdown import escape_markdown
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.messages import ENGLISH, Messages, answering_in, reader
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
from meetbridge.services.join import JoinRefusedError, JoinService
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
NOT_YOURS = ENGLISH("meet.not_yours")  # what English readers get (tests compare with it)
ACCOUNT_DISCONNECT, ACCOUNT_SETTINGS = "account_disconnect", "account_settings"


def _t(key: str, /, **values: object) -> str:
    """The message ``key`` in the language of the user being answered (``_answering``)."""
    return reader()(key, **values)


def _hours(hours: int) -> str:
    return reader().count("hours", hours)


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

    @contextlib.asynccontextmanager
    async def _answering(self, user_id: UserId) -> AsyncIterator[Messages]:
        """Replies in the user's Mattermost language (the server's when they chose none)."""
        with answering_in(await self._texts_for(user_id)) as texts:
            yield texts

    async def _texts_for(self, user_id: UserId) -> Messages:
        try:
            user = await self._directory.user(user_id)
        except DirectoryUnavailableError:
            return ENGLISH
        if user is not None and user.locale:
            return Messages(user.locale)
        return Messages(await self._directory.default_locale())

    async def command(self, invocation: Invocation) -> dict[str, Any]:
        async with self._answering(invocation.user_id):
            return await self._command(invocation)

    async def _command(self, invocation: Invocation) -> dict[str, Any]:
        command = parse_meet(invocation.text)
        if command.verb in (Verb.START, Verb.JOIN):
            topic = command.argument if command.verb is Verb.START else ""
            return await self._go(invocation, topic)
        if command.verb is Verb.ENGINE:
            return await self._engine(invocation, command.argument.lower())
        if command.verb is Verb.STATS:
            stats = await self._call_stats(invocation.user_id) if self._call_stats else None
            return ephemeral(describe_stats(stats, self._clock.now(), reader()))
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
        is_admin = await self._is_admin(invocation.user_id)
        return ephemeral(help_text(is_admin, command.unknown, reader()))

    async def _go(self, invocation: Invocation, topic: str) -> dict[str, Any]:
        try:
            answer = await self._join.begin(invocation.channel_id, invocation.user_id, topic)
        except JoinRefusedError as refused:
            return ephemeral(_refusal_text(refused))
        if not answer.join_link:  # the engine answered in its own terms (Zoom)
            return engine_reply(answer, self._buttons, invocation.channel_id, invocation.user_id)
        url = answer.join_link
        return ephemeral(_t("meet.opening", url=url), goto_location=url)

    async def _status(self, invocation: Invocation) -> dict[str, Any]:
        async with self._database.read() as conn:
            meeting = await meetings_repo.current_for_channel(conn, invocation.channel_id)
        if meeting is None:
            return ephemeral(_t("meet.no_meeting"))
        return ephemeral(self._describe(meeting))

    def _describe(self, meeting: Meeting) -> str:
        people = meeting.participants()
        running = describe_duration(self._clock.now() - meeting.started_at, reader())
        topic = f" ({escape_markdown(meeting.topic)})" if meeting.topic else ""
        if not people:
            return _t("meet.status_empty", topic=topic, running=running)
        names = "\n".join(f"* {escape_markdown(p.display_name)}" for p in people)
        return _t("meet.status", topic=topic, running=running, count=len(people), names=names)

    async def _link(self, invocation: Invocation) -> dict[str, Any]:
        try:
            await self._join.check(invocation.channel_id, invocation.user_id)
        except JoinRefusedError as refused:
            return ephemeral(_refusal_text(refused))
        url = f"{self._public_url}/meet/{invocation.channel_id}"
        return ephemeral(_t("meet.link", url=url))

    async def _admin_command(self, invocation: Invocation, command: MeetCommand) -> dict[str, Any]:
        if not await self._is_admin(invocation.user_id):
            return ephemeral(_t("meet.admin_only"))
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
            _t("meet.admin_console", url=url),
            attachments=[
                {
                    "text": _t("meet.admin_channel"),
                    "actions": [
                        self._buttons.button(
                            _t("button.allow"),
                            "admin_allow",
                            channel,
                            channel,
                            invocation.user_id,
                            "primary",
                        ),
                        self._buttons.button(
                            _t("button.disallow"),
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
            return ephemeral(_t("meet.engine_usage", choices=choices))
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._channel_admin_refusal(channel, user, "meet.what.choose_engine")
        if refused:
            return ephemeral(refused)
        title = (
            _t("dialog.engine_default_title")
            if engine == "default"
            else _t("dialog.engine_title", engine=self._title(engine))
        )
        return ephemeral(
            await self._confirm(
                invocation.trigger_id,
                Claim(user, "engine", channel, engine),
                _dialog(
                    title, _t("dialog.engine_text", channel=await self._channel_mention(channel))
                ),
            )
        )

    async def _max(self, invocation: Invocation, argument: str) -> str:
        limit = parse_limit(argument)
        if limit == "" or self._limits is None:
            return _t("meet.max_usage", max=MAX_LIMIT)
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._may_set_limit(channel, user)
        if refused:
            return refused
        shown = _t("dialog.max_default") if limit is None else _t("dialog.max_at_most", limit=limit)
        return await self._confirm(
            invocation.trigger_id,
            Claim(user, "max", channel, "default" if limit is None else str(limit)),
            _dialog(
                _t("dialog.max_title"),
                _t("dialog.max_text", channel=await self._channel_mention(channel), shown=shown),
            ),
        )

    async def _guest_link(self, invocation: Invocation, argument: str) -> str:
        """``/meet guest-link [hours]``: a channel admin asks for an expiring guest link."""
        hours = parse_hours(argument)
        if hours is None:
            return _t("meet.guest_link_usage", max=MAX_HOURS)
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._guest_link_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        return await self._confirm(
            invocation.trigger_id,
            Claim(user, "guest_link", channel, str(hours)),
            _dialog(
                _t("dialog.guest_link_title"),
                _t("dialog.guest_link_text", channel=where, hours=_hours(hours)),
                submit_label=_t("dialog.guest_link_submit"),
            ),
        )

    async def _guest_link_refusal(self, channel: ChannelId, user: UserId) -> str:
        if self._guest_links is None or not await self._engine_can(channel, Capability.GUEST_LINKS):
            return _t("meet.guest_links_unavailable")
        with contextlib.suppress(DirectoryUnavailableError):  # then the admin check says so
            if getattr(await self._directory.channel(channel), "is_direct", False):
                return _t("meet.guest_links_direct")  # only its two members are let in
        return await self._channel_admin_refusal(channel, user, "meet.what.guest_links")

    async def _apply_guest_link(self, claim: Claim) -> str | dict[str, Any]:
        hours = parse_hours(claim.target)
        refused = await self._guest_link_refusal(claim.channel_id, claim.user_id)
        if refused or hours is None or self._guest_links is None:
            return {"error": refused or _t("meet.confirmation_stale")}
        link = await self._guest_links(claim.channel_id, claim.user_id, hours)
        return _t("meet.guest_link", hours=_hours(hours), link=link)

    async def _may_set_limit(self, channel: ChannelId, user: UserId) -> str:
        return await self._channel_admin_refusal(channel, user, "meet.what.set_limit")

    async def _channel_admin_refusal(self, channel: ChannelId, user: UserId, what: str) -> str:
        """Why ``user`` may not do ``what`` (a catalogue key) in the channel (they are neither a
        channel admin nor a system admin), or "" when they may."""
        try:
            allowed = await self._is_admin(user) or await self._directory.is_channel_admin(
                channel, user
            )
        except DirectoryUnavailableError:
            return _t("meet.mattermost_unreachable")
        if not allowed:
            return _t("meet.channel_admins_only", what=_t(what))
        return ""

    async def _apply_max(self, claim: Claim) -> str | dict[str, Any]:
        limit = parse_limit(claim.target)
        if self._limits is None or limit == "":
            return {"error": _t("meet.confirmation_stale")}
        refused = await self._may_set_limit(claim.channel_id, claim.user_id)
        if refused:
            return {"error": refused}
        await self._limits.set_limit(claim.channel_id, limit if isinstance(limit, int) else None)
        if limit is None:
            return _t("meet.limit_default")
        return _t("meet.limit_set", limit=limit)

    async def _apply_engine(self, claim: Claim) -> str:
        assert self._engines is not None
        channel, user, engine = claim.channel_id, claim.user_id, claim.target
        refused = await self._channel_admin_refusal(channel, user, "meet.what.choose_engine")
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
            return _t("meet.not_available_for", verb=verb.value, engine=self._title(name))
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
                _t("dialog.leave_title"),
                _t("dialog.leave_text", channel=where),
                submit_label=_t("dialog.leave_submit"),
            ),
            Verb.END: _dialog(
                _t("dialog.end_title"),
                _t("dialog.end_text", channel=where),
                submit_label=_t("dialog.end_submit"),
            ),
            Verb.HOST: _dialog(
                _t("dialog.host_title"),
                _t("dialog.host_text", username=escape_markdown(username), channel=where),
                submit_label=_t("dialog.host_submit"),
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
                return _t("meet.not_in_meeting")
            return ""
        host = await controls.host_of(channel)
        if host is None:
            return _t("meet.nothing_running")
        if host == user or await self._is_admin_now(user):
            return ""
        if action in ("end", "recording", "captions"):
            return _t(f"meet.only_host_{action}")
        return _t("meet.only_host_host")

    async def _new_host(
        self, controls: HostControls, channel: ChannelId, argument: str
    ) -> tuple[str, str, str]:
        """(refusal, user id, username) of the member ``argument`` names, who must be present."""
        username = mentioned_username(argument)
        if username is None:
            return _t("meet.host_usage"), "", ""
        for present in await controls.present_users(channel):
            try:
                info = await self._directory.user(present)
            except DirectoryUnavailableError:
                return _t("meet.try_again"), "", ""
            if info is not None and info.username == username:
                return "", present, username
        return _t("meet.not_present", username=escape_markdown(username)), "", ""

    async def _apply_meeting_change(self, claim: Claim) -> str | dict[str, Any]:
        verb = Verb(claim.action)
        name, controls = await self._host_controls(claim.channel_id, verb)
        if controls is None:
            return {"error": _t("meet.engine_changed", engine=self._title(name))}
        channel, user = claim.channel_id, claim.user_id
        try:
            refused = await self._refusal(controls, claim.action, channel, user)
            if refused:
                return {"error": refused}
            if verb is Verb.LEAVE:
                await controls.remove_user(channel, user)
                return _t("meet.left")
            if verb is Verb.END:
                await self._end(name, channel)
                return _t("meet.ended")
            if UserId(claim.target) not in await controls.present_users(channel):
                return {"error": _t("meet.member_gone")}
            await controls.hand_host(channel, UserId(claim.target))
        except EngineUnavailableError as exc:
            return {"error": str(exc)}
        return _t("meet.host_handed")

    # --- recording -------------------------------------------------------------------------

    async def _recording(self, invocation: Invocation, argument: str) -> str:
        """Ask the host (or a system admin) to confirm starting or stopping the recording: a
        forged command must not record a meeting in someone's name."""
        if argument not in ("start", "stop"):
            return _t("meet.recording_usage")
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._recording_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        dialog = (
            _dialog(
                _t("dialog.recording_start_title"),
                _t("dialog.recording_start_text", channel=where),
                submit_label=_t("dialog.recording_start_submit"),
            )
            if argument == "start"
            else _dialog(
                _t("dialog.recording_stop_title"),
                _t("dialog.recording_stop_text", channel=where),
                submit_label=_t("dialog.recording_stop_submit"),
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
            return _t("meet.not_available_for", verb="recording", engine=self._title(name))
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
            return _t("meet.captions_usage")
        channel, user = invocation.channel_id, invocation.user_id
        refused = await self._captions_refusal(channel, user)
        if refused:
            return refused
        where = await self._channel_mention(channel)
        dialog = (
            _dialog(
                _t("dialog.captions_on_title"),
                _t("dialog.captions_on_text", channel=where),
                submit_label=_t("dialog.captions_on_submit"),
            )
            if argument == "on"
            else _dialog(
                _t("dialog.captions_off_title"),
                _t("dialog.captions_off_text", channel=where),
                submit_label=_t("dialog.captions_off_submit"),
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
            return _t("meet.not_available_for", verb="captions", engine=self._title(name))
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
            return ephemeral(_t("meet.no_accounts"))
        name, accounts = found
        title, user = self._title(name), invocation.user_id
        if not accounts.accounts_ready():
            return ephemeral(_t("meet.accounts_not_ready", engine=title))
        if verb is Verb.DISCONNECT:
            claim = Claim(user, ACCOUNT_DISCONNECT, invocation.channel_id, name)
            dialog = _dialog(
                _t("dialog.disconnect_title", engine=title),
                _t("dialog.disconnect_text", engine=title),
            )
            return ephemeral(await self._confirm(invocation.trigger_id, claim, dialog))
        if verb is Verb.CONNECT:
            if accounts.shared_account() and not await self._is_admin(user):
                return ephemeral(_t("meet.shared_account", engine=title))
            link = accounts.connect_link(user, invocation.channel_id)
            return ephemeral(_t("meet.connect", engine=title, link=link))
        # The settings form is itself the confirmation: only the user sees it.
        settings = await accounts.account_settings(user)
        claim = Claim(user, ACCOUNT_SETTINGS, invocation.channel_id, name)
        dialog = _dialog(
            _t("dialog.settings_title", engine=title),
            "",
            submit_label=_t("dialog.save"),
            elements=_setting_elements(settings),
        )
        return ephemeral(await self._confirm(invocation.trigger_id, claim, dialog))

    # --- confirmation dialogs ---------------------------------------------------------------

    async def _confirm_filter(
        self, trigger_id: str, user_id: UserId, channel_id: ChannelId, argument: str
    ) -> str:
        channel = await self._channel_mention(channel_id)
        return await self._confirm(
            trigger_id,
            Claim(user_id, f"admin_{argument}", channel_id, ""),
            _dialog(
                _t(f"dialog.{argument}_title"),
                _t(f"dialog.{argument}_text", channel=channel),
                submit_label=_t(f"button.{argument}"),
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
            return _t("meet.this_channel")
        return f"~{info.name}"

    async def _confirm(self, trigger_id: str, claim: Claim, dialog: dict[str, Any]) -> str:
        """Show ``dialog`` to the claim's user, through Mattermost, to confirm the change.

        The answer's text ("" once the dialog is shown); the change waits for the submission.
        """
        if trigger_user(trigger_id) != claim.user_id:
            log.warning("mattermost.unconfirmable_request", action=claim.action)
            return _t("meet.not_yours")
        if self._confirmations is None or self._dialogs is None:
            return _t("meet.not_confirmed")
        dialog = {**dialog, "state": self._confirmations.state_for(claim)}
        try:
            await self._dialogs.open_dialog(trigger_id, self.dialog_url, dialog)
        except MattermostError as exc:
            log.warning("mattermost.dialog_not_opened", action=claim.action, error=str(exc))
            return _t("meet.not_confirmed")
        return ""

    async def field_errors(self, claim: Claim, submission: dict[str, Any]) -> dict[str, str]:
        """What is wrong with the fields of a submitted form (empty when nothing is)."""
        async with self._answering(claim.user_id):
            return await self._field_errors(claim, submission)

    async def _field_errors(self, claim: Claim, submission: dict[str, Any]) -> dict[str, str]:
        accounts = self._accounts_of(claim)
        if claim.action != ACCOUNT_SETTINGS or accounts is None:
            return {}
        settings = await accounts.account_settings(claim.user_id)
        return {
            setting.name: _t("meet.choose_option")
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
        async with self._answering(claim.user_id):
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
                return {"error": _t("meet.admins_only_change")}
            return await self._set_allowed(claim.channel_id, user, claim.action == "admin_allow")
        if claim.action == "engine" and self._engines is not None:
            refused = await self._apply_engine(claim)
            if refused:
                return {"error": refused}
            current = await self._engines.engine_for(claim.channel_id)
            return _t("meet.engine_now", engine=self._title(current))
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
                return {"error": _t("meet.admins_only_disconnect", engine=title)}
            return await accounts.disconnect(user, is_admin)
        if claim.action == ACCOUNT_SETTINGS and accounts is not None:
            return await self._save_account_settings(accounts, user, submission)
        return {"error": _t("meet.confirmation_stale")}

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
                return {"errors": {setting.name: _t("meet.choose_option")}}
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
        return _t("meet.allowed") if allowed else _t("meet.disallowed")

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
        async with self._answering(user_id):
            return await self._click(action, user_id, trigger_id)

    async def _click(
        self, action: VerifiedAction, user_id: UserId, trigger_id: str
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
                return {"ephemeral_text": _t("meet.admins_only_change")}
            argument = "allow" if action.action == "admin_allow" else "disallow"
            text = await self._confirm_filter(
                trigger_id, user_id, ChannelId(action.target), argument
            )
            return {"ephemeral_text": text} if text else {}
        return {"ephemeral_text": _t("meet.button_stale")}

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
            # Someone meetbridge does not find in the meeting (not in it, or not yet reported):
            # only their own window can leave.
            or user_id not in await controls.present_users(channel)
        ):
            return {"ephemeral_text": _t("meet.leave_in_window")}
        text = await self._meeting_change(trigger_id, user_id, channel, verb, "")
        return {"ephemeral_text": text} if text else {}

    async def _click_join(self, channel_id: ChannelId, user_id: UserId) -> dict[str, Any]:
        try:
            url = await self._join.issue(channel_id, user_id)
        except JoinRefusedError as refused:
            return {"ephemeral_text": _refusal_text(refused)}
        return {"goto_location": url, "ephemeral_text": _t("meet.opening_short", url=url)}

    async def _click_ring(self, action: VerifiedAction, user_id: UserId) -> dict[str, Any]:
        if not action.target.isdigit():
            return {"ephemeral_text": _t("ring.no_longer_available")}
        async with self._database.read() as conn:
            ring = await chat_repo.get_ring(conn, int(action.target))
        if ring is None or ring.callee_id != user_id:
            return {"ephemeral_text": _t("ring.no_longer_available")}
        if action.action == "ring_join":
            return await self._click_join(ring.channel_id, user_id)
        async with self._database.transaction() as conn:
            await notifications.ignore_ring(conn, ring.id, user_id, self._clock.now())
        self._wake_outbox()
        return {"ephemeral_text": _t("ring.ignored_reply")}


def _refusal_text(refused: JoinRefusedError) -> str:
    """Why the user may not join, in their language; an engine's own explanation (a detail
    other than the refusal's standard sentence) is passed on as the engine wrote it."""
    if refused.detail == refused.refusal.value:
        return _t(f"refusal.{refused.refusal.name.lower()}")
    return refused.detail


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
    submit_label: str = "",
    elements: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Mattermost interactive dialog (its title must fit in 24 characters)."""
    assert len(title) <= 24, title
    return {
        "callback_id": "meetbridge",
        "title": title,
        "introduction_text": introduction,
        "elements": elements or [],
        "submit_label": submit_label or _t("dialog.confirm"),
        "notify_on_cancel": False,
    }
