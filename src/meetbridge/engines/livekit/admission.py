"""Who may stay in a LiveKit meeting, checked when LiveKit reports a join and at every
reconciliation, not only when a link is opened (issue 20).

LiveKit does not revoke tokens, and hands every connected participant a fresh token every few
minutes: a participant the host removed can reconnect with the token they held, and several links
opened at once (or a limit lowered on a room already open) can take a room past its limit. So
whenever LiveKit reports a join (its signed ``participant_joined`` webhook, answered only after
this check) and every minute for each meeting in progress, meetbridge removes at once:

* anyone the host removed from this meeting (the room's metadata names them);
* anyone who no longer belongs to the channel (a membership meetbridge cannot confirm right now
  is not taken for a departure);
* devices past the meeting's limit, newest first (meetbridge's own hidden participants take no
  place).

Each is sent a notice saying why just before LiveKit disconnects them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson
import structlog

from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.messages import reader
from meetbridge.engines.livekit.engine import (
    USER_ATTRIBUTE,
    LiveKitEngine,
    MeetingState,
    channel_of_room,
    meeting_state,
)
from meetbridge.engines.livekit.models import Participant
from meetbridge.engines.livekit.rooms import LiveKitError, LiveKitNotFoundError
from meetbridge.ports import DirectoryUnavailableError, MembershipDirectory

log = structlog.get_logger(__name__)

NOTICE = "meetbridge.notice"
NOTICE_GRACE = 0.2  # seconds between the notice and the removal, for the notice to arrive
REMOVED, LEFT_CHANNEL, FULL = "removed", "left-channel", "full"

Welcome = Callable[[str, str], Awaitable[None]]
"""(room, identity): what a device that may stay is sent as it joins (the hands, the chat)."""


@dataclass(frozen=True, slots=True)
class Eviction:
    identity: str
    kind: str  # REMOVED, LEFT_CHANNEL or FULL


def user_of(participant: Participant) -> str:
    return participant.attributes.get(USER_ATTRIBUTE, "")


def evictions(
    participants: Iterable[Participant],
    state: MeetingState,
    limit: int,
    left_channel: frozenset[str] = frozenset(),
) -> list[Eviction]:
    """Who must leave the room, and why (pure: the room as LiveKit lists it)."""
    visible = [p for p in participants if not (p.permission and p.permission.hidden)]
    out: list[Eviction] = []
    staying = []
    for participant in visible:
        user = user_of(participant)
        if participant.identity in state.removed or (user and user in state.removed):
            out.append(Eviction(participant.identity, REMOVED))
        elif user and user in left_channel:
            out.append(Eviction(participant.identity, LEFT_CHANNEL))
        else:
            staying.append(participant)
    staying.sort(key=lambda p: (p.joined_at_ms or p.joined_at * 1000, p.identity))
    out += [Eviction(p.identity, FULL) for p in staying[max(0, limit) :]]
    return out


class LiveKitAdmission:
    def __init__(
        self,
        engine: LiveKitEngine,
        members: MembershipDirectory,
        welcome: Welcome | None = None,
        grace: float = NOTICE_GRACE,
    ) -> None:
        self._engine = engine
        self._members = members
        self._welcome = welcome
        self._grace = grace

    async def joined(self, room: str, identity: str) -> None:
        """LiveKit reported a join: check the room, then welcome the device if it stays."""
        evicted = await check_quietly(self, room)
        if self._welcome is not None and identity not in {e.identity for e in evicted}:
            await self._welcome(room, identity)

    async def check_room(self, room: str) -> list[Eviction]:
        """Remove whoever may not stay in the room now; what was done. Raises LiveKitError."""
        channel_id = channel_of_room(room)
        if channel_id is None:
            return []
        rooms = self._engine.rooms()
        listed = await rooms.list_rooms([room])
        if not listed:
            return []
        try:
            present = await rooms.list_participants(room)
        except LiveKitNotFoundError:
            return []
        gone = await self._left_channel(channel_id, present)
        limit = await self._engine.limit_for(channel_id)
        out = evictions(present, meeting_state(listed[0]), limit, gone)
        for eviction in out:
            await self._evict(room, eviction, limit)
        return out

    async def _left_channel(
        self, channel_id: ChannelId, present: Sequence[Participant]
    ) -> frozenset[str]:
        users = {user_of(p) for p in present if is_mattermost_id(user_of(p))}
        return frozenset([user for user in users if not await self._member(channel_id, user)])

    async def _member(self, channel_id: ChannelId, user: str) -> bool:
        try:
            return await self._members.is_member(channel_id, UserId(user))
        except DirectoryUnavailableError:
            return True  # unknown is not a departure: the next check asks again

    async def _evict(self, room: str, eviction: Eviction, limit: int) -> None:
        texts = reader()
        text = {
            REMOVED: texts("engine.removed"),
            LEFT_CHANNEL: texts("engine.left_channel"),
            FULL: texts.count("engine.full", limit),
        }[eviction.kind]
        # The page's "removed" notice (web/CONTRACT.md), whatever the reason: the text says it.
        data = orjson.dumps({"kind": "removed", "text": text})
        rooms = self._engine.rooms()
        try:
            await rooms.send_data(
                room, data, topic=NOTICE, destination_identities=(eviction.identity,)
            )
            await asyncio.sleep(self._grace)
            await rooms.remove_participant(room, eviction.identity)
        except LiveKitNotFoundError:
            return  # gone meanwhile: what was wanted
        log.info("livekit.participant_evicted", room=room, why=eviction.kind)


async def check_quietly(admission: LiveKitAdmission, room: str) -> list[Eviction]:
    """check_room for the webhook's path: a LiveKit that does not answer now is retried by the
    next reconciliation, never an error for the webhook."""
    try:
        return await admission.check_room(room)
    except LiveKitError as exc:
        log.warning("livekit.admission_check_failed", room=room, error=str(exc))
        return []
