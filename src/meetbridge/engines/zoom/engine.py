"""Zoom as a MeetingEngine: meetings start in Zoom's own flow (the user's or the account's
OAuth grant, a meeting created through Zoom's API) and are joined on Zoom, through a personal
meetbridge link that names the meeting (never Zoom's URL, which would let whoever reads a
forwarded reply in)."""

from __future__ import annotations

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom.service import Outcome, StartResult, ZoomService
from meetbridge.ports import (
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
