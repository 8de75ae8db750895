"""Host controls for Pexip meetings: the meeting page's control API (web/CONTRACT.md), the
hand-over when the last host leaves, and muting on join in channels.

Who asks is the bearer token meetbridge gave the member with their join; whether they may is
decided here, never from what the page shows: a chair leg of that user as the event sink
reported it, and only if meetbridge made that user host (a chair made by anything else, a PIN
that leaked or another client's own menu, is not believed), or a system or channel admin.
meetbridge then acts through the client API as its own control-only chair (engine.act), so each
action is one client-API request (reference/pexip.md §5.2-5.3):

  mute / ask-unmute / remove / lower-hand / raise-hand   participants/<uuid>/mute | message |
                                                          disconnect | clearbuzz | buzz
  make-host                                               participants/<uuid>/role {"role"}
  mute-all / lower-all-hands / lock / unlock / end        muteguests | clearallbuzz | lock |
                                                          unlock | disconnect

After the event sink's reports: hand-over, mute on join, and the chat mirror (chat.py) starts
when someone joins a Pexip meeting and stops when it ends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from meetbridge.clock import Clock
from meetbridge.domain import roles
from meetbridge.domain.call_stats import parse_stats
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.meetings import (
    Meeting,
    MeetingEnded,
    MeetingEvent,
    ParticipantJoined,
    ParticipantLeft,
)
from meetbridge.domain.roles import CHAIR, GUEST
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.engines.pexip.chat import PexipChatMirror
from meetbridge.engines.pexip.client_api import ClientApiError
from meetbridge.engines.pexip.engine import CONTROLS_PURPOSE, PexipEngine
from meetbridge.ports import EngineUnavailableError
from meetbridge.services.page_guard import NOT_A_MEMBER, over_limit
from meetbridge.store import room_state_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

HOST_ONLY = frozenset(
    {"mute", "mute-all", "ask-unmute", "remove", "make-host", "lower-all-hands", "lock",
     "unlock", "end"}
)  # fmt: skip
ASK_UNMUTE_TEXT = "The host asks you to unmute."
# Infinity's participant ids are UUIDs; nothing else may reach a client-API path.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class PexipControlRefusedError(Exception):
    """The action is not allowed or not possible; the message is for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PexipCaller:
    channel_id: ChannelId
    user_id: UserId
    device: str = ""  # one page: its calls share their rate limits

    @property
    def identity(self) -> str:
        return f"pexip:{self.channel_id}:{self.user_id}:{self.device}"

    @property
    def room(self) -> str:
        return f"pexip-{self.channel_id}"


Action = Callable[["PexipControls", PexipCaller, Meeting, Mapping[str, Any]], Awaitable[None]]


class PexipControls:
    def __init__(
        self, engine: PexipEngine, tokens: TokenCodec, clock: Clock, database: Database
    ) -> None:
        self._engine = engine
        self._tokens = tokens
        self._clock = clock
        self._database = database
        self._pending: set[asyncio.Task[None]] = set()
        #: Mirrors conference messages with the card's thread, once wired (engines/pexip/chat).
        self.chat: PexipChatMirror | None = None

    def caller(self, bearer: str) -> PexipCaller | None:
        """Whom a Pexip meeting's control token was given to; None if it is not one."""
        try:
            claims = self._tokens.decode(bearer, CONTROLS_PURPOSE, self._clock.now())
        except TokenError:
            return None
        channel, user, device = claims.get("c"), claims.get("u"), claims.get("i", "")
        if not (isinstance(channel, str) and isinstance(user, str) and isinstance(device, str)):
            return None
        if not (is_mattermost_id(channel) and is_mattermost_id(user)) or len(device) > 16:
            return None
        return PexipCaller(ChannelId(channel), UserId(user), device)

    async def perform(self, caller: PexipCaller, action: str, body: Mapping[str, Any]) -> None:
        if action == "stats":  # about the caller's own connection: no meeting state needed
            await self._within_limit(caller, action)
            await self.record_stats(caller, body)
            return
        handler = _ACTIONS.get(action)
        if handler is None:
            raise PexipControlRefusedError(
                404, f"{action[:40]!r} is not available in Pexip meetings."
            )
        meeting = await self._engine.meeting(caller.channel_id)
        if meeting is None:
            raise PexipControlRefusedError(409, "This meeting has ended.")
        if not any(leg.has_media for leg in roles.legs_of_user(meeting, caller.user_id)):
            raise PexipControlRefusedError(403, "You are not in this meeting.")
        if not await self._engine.still_member(caller.channel_id, caller.user_id):
            raise PexipControlRefusedError(403, NOT_A_MEMBER)
        await self._within_limit(caller, action)
        if action in HOST_ONLY and not await self._may_host(caller, meeting):
            raise PexipControlRefusedError(403, "Only the meeting's host can do this.")
        try:
            await handler(self, caller, meeting, body)
        except ClientApiError as exc:
            if exc.status == 404:
                raise PexipControlRefusedError(
                    404, "That participant is no longer in the meeting."
                ) from exc
            log.warning("pexip.control_failed", action=action, status=exc.status, error=str(exc))
            raise PexipControlRefusedError(
                503, "The Pexip Conferencing Node refused or cannot be reached."
            ) from exc

    async def _within_limit(self, caller: PexipCaller, action: str) -> None:
        now = self._clock.now()
        refusal = await over_limit(self._database, caller.room, caller.identity, action, now)
        if refusal is not None:
            raise PexipControlRefusedError(429, refusal)

    async def _may_host(self, caller: PexipCaller, meeting: Meeting) -> bool:
        if roles.user_is_chair(meeting, caller.user_id) and await self._engine.made_host(
            caller.channel_id, caller.user_id
        ):
            return True
        return await self._engine.is_admin(caller.channel_id, caller.user_id)

    def _target(self, meeting: Meeting, body: Mapping[str, Any]) -> str:
        identity = body.get("identity")
        if not isinstance(identity, str) or not _UUID.fullmatch(identity):
            raise PexipControlRefusedError(400, "Say whom this is for (identity).")
        if identity not in meeting.legs:
            raise PexipControlRefusedError(404, "That participant is no longer in the meeting.")
        return identity

    async def _each_leg(self, caller: PexipCaller, meeting: Meeting, verb: str) -> None:
        for leg in roles.legs_of_user(meeting, caller.user_id):
            if leg.has_media:
                await self._engine.act(caller.channel_id, f"participants/{leg.uuid}/{verb}")

    # --- actions -------------------------------------------------------------------------------

    async def record_stats(self, caller: PexipCaller, body: Mapping[str, Any]) -> None:
        """The page's summary of its own connection (what /meet stats shows its user), in the
        store the LiveKit page reports to as well, which every replica reads."""
        report = parse_stats(body, self._clock.now())
        if report is None:
            raise PexipControlRefusedError(400, "Statistics are four numbers within their bounds.")
        async with self._database.transaction() as conn:
            await room_state_repo.save_stats(conn, caller.user_id, report)

    async def raise_hand(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        await self._each_leg(caller, meeting, "buzz")

    async def lower_hand(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        if "identity" not in body:
            await self._each_leg(caller, meeting, "clearbuzz")
            return
        target = self._target(meeting, body)
        if meeting.legs[target].user_id != caller.user_id and not await self._may_host(
            caller, meeting
        ):
            raise PexipControlRefusedError(403, "Only the meeting's host can lower someone's hand.")
        await self._engine.act(caller.channel_id, f"participants/{target}/clearbuzz")

    async def lower_all_hands(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        await self._engine.act(caller.channel_id, "clearallbuzz")

    async def mute(self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]) -> None:
        await self._engine.act(
            caller.channel_id, f"participants/{self._target(meeting, body)}/mute"
        )

    async def mute_all(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        await self._engine.act(caller.channel_id, "muteguests")

    async def ask_unmute(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        # A private conference message: Webapp3 and meetbridge's page both show it.
        target = self._target(meeting, body)
        message = {"type": "text/plain", "payload": ASK_UNMUTE_TEXT}
        await self._engine.act(caller.channel_id, f"participants/{target}/message", message)

    async def remove(self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]) -> None:
        target = self._target(meeting, body)
        await self._engine.act(caller.channel_id, f"participants/{target}/disconnect")

    async def make_host(
        self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]
    ) -> None:
        """Host is handed over, as in Calls: the target becomes chair, the caller a guest."""
        target = self._target(meeting, body)
        user = meeting.legs[target].user_id
        if user is not None:
            await self._engine.hand_host(caller.channel_id, user)
            return
        await self._engine.set_role(caller.channel_id, target, CHAIR)  # a guest without an account
        await self._engine.withdraw_host(caller.channel_id, caller.user_id)
        for leg in roles.legs_of_user(meeting, caller.user_id):
            if leg.has_media and leg.role == CHAIR:
                await self._engine.set_role(caller.channel_id, leg.uuid, GUEST)

    async def lock(self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]) -> None:
        await self._engine.act(caller.channel_id, "lock")

    async def unlock(self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]) -> None:
        await self._engine.act(caller.channel_id, "unlock")

    async def end(self, caller: PexipCaller, meeting: Meeting, body: Mapping[str, Any]) -> None:
        await self._engine.act(caller.channel_id, "disconnect")
        await self._engine.release(caller.channel_id)

    # --- after the event sink's reports are applied --------------------------------------------

    def after_events(self, events: Iterable[tuple[Meeting, MeetingEvent]]) -> None:
        """Called once a batch of reports is committed: hand host over where the host left,
        mute who joined a channel's meeting, mirror its chat, give back the chair token of
        ended meetings. One piece of work per channel and batch, however many events."""
        left: set[ChannelId] = set()
        joined: dict[ChannelId, list[str]] = {}
        for meeting, event in events:
            if isinstance(event, ParticipantLeft):
                left.add(event.channel_id)
            elif isinstance(event, ParticipantJoined):
                legs = meeting.legs_of({event.participant.person})
                joined.setdefault(event.channel_id, []).extend(leg.uuid for leg in legs)
            elif isinstance(event, MeetingEnded):
                left.discard(event.channel_id)
                joined.pop(event.channel_id, None)
                if self.chat is not None:
                    self.chat.stop(event.channel_id)
                self._spawn(self._engine.release(event.channel_id))
                self._spawn(self._engine.forget_hosts(event.channel_id))
        if not self._engine.can_act:
            return  # no node to act on: reading every touched meeting again would be for nothing
        for channel_id in left:
            self._spawn(self.ensure_host(channel_id))
        for channel_id, uuids in joined.items():
            self._spawn(self._joined(channel_id, uuids))

    async def _joined(self, channel_id: ChannelId, legs: list[str]) -> None:
        await self.mute_on_join(channel_id, legs)
        if self.chat is not None and await self._engine.meeting(channel_id) is not None:
            self.chat.watch(channel_id)

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
            except (ClientApiError, EngineUnavailableError) as exc:
                log.warning("pexip.after_events_failed", error=str(exc))
            except Exception:
                log.exception("pexip.after_events_failed")

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Shutting down: stop what after_events started (a node may be slow to answer)."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the work after_events started (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def ensure_host(self, channel_id: ChannelId) -> roles.Succession | None:
        """If the meeting has guests and no host, promote the member present longest."""
        succession = roles.successor(await self._engine.meeting(channel_id))
        if succession is None:
            return None
        if succession.person.startswith(roles.USER_PERSON):
            user = UserId(succession.person.removeprefix(roles.USER_PERSON))
            await self._engine.record_host(channel_id, user, only=True)
        for uuid in succession.legs:
            await self._engine.set_role(channel_id, uuid, CHAIR)
        log.info("pexip.host_handed_over", channel_id=channel_id, legs=len(succession.legs))
        return succession

    async def mute_on_join(self, channel_id: ChannelId, leg_uuids: list[str]) -> list[str]:
        """Mute the new WebRTC legs of a channel's meeting (not in direct or group messages)."""
        meeting = await self._engine.meeting(channel_id)
        if meeting is None:
            return []
        channel = await self._engine.channel(channel_id)
        if channel is None:
            return []
        legs = [meeting.legs[uuid] for uuid in leg_uuids if uuid in meeting.legs]
        muted = roles.legs_to_mute_on_join(channel.is_conversation, legs)
        for uuid in muted:
            await self._engine.act(channel_id, f"participants/{uuid}/mute")
        return muted


_ACTIONS: dict[str, Action] = {
    "raise-hand": PexipControls.raise_hand,
    "lower-hand": PexipControls.lower_hand,
    "lower-all-hands": PexipControls.lower_all_hands,
    "mute": PexipControls.mute,
    "mute-all": PexipControls.mute_all,
    "ask-unmute": PexipControls.ask_unmute,
    "remove": PexipControls.remove,
    "make-host": PexipControls.make_host,
    "lock": PexipControls.lock,
    "unlock": PexipControls.unlock,
    "end": PexipControls.end,
}
