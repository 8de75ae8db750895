"""Zoom as a MeetingEngine: meetings start in Zoom's own flow (the user's or the account's
OAuth grant, a meeting created through Zoom's API) and are joined on Zoom, through a personal
meetbridge link that names the meeting (never Zoom's URL, which would let whoever reads a
forwarded reply in)."""

from __future__ import annotations

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom.service import Outcome, PmiPreference, StartResult, ZoomService
from meetbridge.ports import (
    AccountOption,
    AccountSetting,
    AccountSettingError,
    Capability,
    EngineRefusedError,
    JoinRequest,
    JoinTarget,
    StartAnswer,
    StartChoice,
    StartRequest,
)
from meetbridge.services.join import JoinRefusedError, JoinService, Refusal

NAME = "zoom"
JOIN = "zoomjoin"  # the card's Join button
FORCE, PMI, NEW = "zoomforce", "zoompmi", "zoomnew"  # buttons on a start answer
OLD_PREFERENCE = "zoompref"  # on replies from before /meet settings was a dialog

PMI_SETTING = "pmi"
SHOWN_PMI = {
    PmiPreference.PERSONAL: "always your personal meeting ID",
    PmiPreference.NEW: "always a new meeting ID",
    PmiPreference.ASK: "ask each time",
}


class ZoomEngine:
    name = NAME
    title = "Zoom"
    # Zoom reports starts and ends for its card, not who is in the meeting (no EVENTS).
    capabilities: frozenset[Capability] = frozenset()
    button_actions = frozenset({JOIN, FORCE, PMI, NEW, OLD_PREFERENCE})

    def __init__(self, zoom: ZoomService, join: JoinService) -> None:
        self._zoom = zoom
        self._join = join

    def missing_configuration(self) -> str | None:
        return None if self._zoom.configured() else "zoom_client_id, zoom_client_secret"

    async def prepare(self, channel: ChannelInfo, starter: UserId) -> None:
        return None  # Zoom meetings are created in start(), once the user's grant is known

    async def join_target(self, request: JoinRequest) -> JoinTarget:
        # meetbridge's join page has nothing to show for Zoom: its meetings are joined from
        # their card or the answer to /meet (a meetbridge link issued before a switch to Zoom).
        raise EngineRefusedError(Refusal.OTHER_ENGINE.value)

    async def end(self, channel_id: ChannelId) -> bool:
        return False

    async def start(self, request: StartRequest) -> StartAnswer:
        result = await self._zoom.start(request.user_id, request.channel_id, request.topic)
        return self._answer(result, request)

    async def clicked(
        self, action: str, target: str, channel_id: ChannelId, user_id: UserId
    ) -> StartAnswer:
        if action == JOIN:
            return await self._join_card(target, channel_id, user_id)
        if action == OLD_PREFERENCE:
            return StartAnswer(text="Use `/meet settings` to change this.")
        use_pmi = {PMI: True, NEW: False}.get(action)
        result = await self._zoom.start(
            user_id, channel_id, target, use_pmi=use_pmi, force=action == FORCE
        )
        return self._answer(result, StartRequest(channel_id, user_id, target))

    async def _join_card(self, target: str, channel_id: ChannelId, user_id: UserId) -> StartAnswer:
        meeting = await self._zoom.meeting(int(target)) if _is_row_id(target) else None
        if meeting is None or meeting.ended_at is not None:
            return StartAnswer(text="This Zoom meeting has ended.")
        try:
            await self._join.check(channel_id, user_id)
        except JoinRefusedError as refused:
            return StartAnswer(text=refused.detail)
        # The answer goes to whoever posted the click: a link only the clicker can open.
        link = self._zoom.join_link(user_id, meeting.id)
        return StartAnswer(text=f"[Join the Zoom meeting]({link})", goto=link)

    # --- user accounts (/meet connect, disconnect, settings) ---------------------------------

    def accounts_ready(self) -> bool:
        return self._zoom.configured()

    def shared_account(self) -> bool:
        return self._zoom.account_level

    def connect_link(self, user_id: UserId, channel_id: ChannelId) -> str:
        return self._zoom.connect_link(user_id, channel_id)

    async def disconnect(self, user_id: UserId, is_admin: bool) -> str:
        return await self._zoom.disconnect(user_id, is_admin)

    async def account_settings(self, user_id: UserId) -> tuple[AccountSetting, ...]:
        current = await self._zoom.pmi_preference(user_id) or PmiPreference.ASK
        options = tuple(
            AccountOption(value.value, text[0].upper() + text[1:])
            for value, text in SHOWN_PMI.items()
        )
        return (AccountSetting(PMI_SETTING, "Zoom meetings you start", options, current.value),)

    async def save_account_setting(self, user_id: UserId, name: str, value: str) -> str:
        if name != PMI_SETTING or value not in {p.value for p in PmiPreference}:
            raise AccountSettingError(f"no option {value!r} for {name!r}")
        preference = PmiPreference(value)
        await self._zoom.set_pmi_preference(user_id, preference)
        return f"Saved: Zoom meetings you start use {SHOWN_PMI[preference]}."

    # --- answers ---------------------------------------------------------------------------

    def _answer(self, result: StartResult, request: StartRequest) -> StartAnswer:
        # The answer may reach someone else (a forged command), so it carries meetbridge's
        # personal link to the meeting, never Zoom's own URL.
        url = result.url
        if result.meeting_row is not None:
            url = self._zoom.join_link(request.user_id, result.meeting_row)
        if result.outcome is Outcome.STARTED and url:
            return StartAnswer(text=f"{result.text} [Join the Zoom meeting]({url})", goto=url)
        if result.outcome is Outcome.CONNECT:
            return StartAnswer(
                text=f"{result.text} [Connect your Zoom account]({url}); the meeting starts then."
            )
        if result.outcome is Outcome.RECENT:
            return StartAnswer(
                text=f"{result.text} [Join that meeting]({url}), or start another one:",
                choices=(StartChoice("Start a new meeting", FORCE, result.topic),),
            )
        if result.outcome is Outcome.ASK_PMI:
            return StartAnswer(
                text=f"{result.text} You can set a default with `/meet settings`.",
                choices=(
                    StartChoice("Use my personal meeting ID", PMI, result.topic, "primary"),
                    StartChoice("Use a new meeting ID", NEW, result.topic),
                ),
            )
        return StartAnswer(text=result.text)


def _is_row_id(target: str) -> bool:
    # isdigit() alone takes "²", which int() refuses.
    return target.isascii() and target.isdigit() and len(target) <= 18
