"""The meeting page's control API for LiveKit meetings (web/CONTRACT.md of the page).

The page asks, meetbridge decides and tells every page through LiveKit data messages. Who asks
is the bearer token meetbridge gave that device with its join (one identity in one channel's
meeting); whether they may is decided here, from the room's metadata (its host) in LiveKit, never
from what the page shows.

Replicas behind a load balancer share the room's state through the database (one small
statement per action): raised hands, the recent chat a joining device is sent, every action's
rate limit per device (services/page_guard.py), and each user's last statistics (/meet stats
may reach another replica than the page's reports). It is forgotten when the meeting ends and,
for an end that was missed, by age.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from meetbridge.clock import Clock
from meetbridge.domain.call_stats import CallStats, parse_stats
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.engines.livekit.captions import CaptionsRefusedError, LiveKitCaptions
from meetbridge.engines.livekit.engine import (
    CONTROLS_PURPOSE,
    USER_ATTRIBUTE,
    LiveKitEngine,
    meeting_state,
    room_name,
)
from meetbridge.engines.livekit.models import Participant
from meetbridge.engines.livekit.recording import LiveKitRecordings, RecordingRefusedError
from meetbridge.engines.livekit.rooms import LiveKitError, LiveKitNotFoundError, RoomService
from meetbridge.ports import Directory, DirectoryUnavailableError, EngineUnavailableError
from meetbridge.services.page_guard import NOT_A_MEMBER, over_limit, still_member
from meetbridge.store import room_state_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

HANDS, REACTION, CHAT, NOTICE = (
    "meetbridge.hands",
    "meetbridge.reaction",
    "meetbridge.chat",
    "meetbridge.notice",
)
MAX_CHAT, MAX_EMOJI, MAX_HANDS, RECENT_CHAT = 4000, 16, 500, 50
MAX_IDENTITY = 128
ROOM_STATE_KEPT = 24 * 3600.0  # a meeting whose end was missed is forgotten after a day
STATS_KEPT = 30 * 24 * 3600.0  # /meet stats answers about the user's last session, for a month
HOST_ONLY = frozenset(
    {"lower-all-hands", "mute", "mute-all", "ask-unmute", "stop-screenshare", "remove",
     "make-host", "end", "recording", "captions"}
)  # fmt: skip


class ControlRefusedError(Exception):
    """The action is not allowed or not possible; the message is for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Caller:
    channel_id: ChannelId
    user_id: UserId
    identity: str
    name: str = ""

    @property
    def room(self) -> str:
        return room_name(self.channel_id)


ThreadMirror = Callable[[ChannelId, str, str, str], Awaitable[object]]
"""(channel, author's name, text, line id): the line for the meeting's Mattermost thread."""

Action = Callable[["MeetingControls", Caller, Mapping[str, Any]], Awaitable[None]]


class MeetingControls:
    def __init__(
        self,
        engine: LiveKitEngine,
        tokens: TokenCodec,
        clock: Clock,
        users: Directory,
        database: Database,
        to_thread: ThreadMirror | None = None,
        recordings: LiveKitRecordings | None = None,
        captions: LiveKitCaptions | None = None,
    ) -> None:
        self._recordings = recordings
        self._captions = captions
        self._to_thread = to_thread
        self._engine = engine
        self._users = users
        self._tokens = tokens
        self._clock = clock
        self._database = database

    def caller(self, bearer: str) -> Caller:
        try:
            claims = self._tokens.decode(bearer, CONTROLS_PURPOSE, self._clock.now())
        except TokenError as exc:
            raise ControlRefusedError(401, "This meeting session is not valid any more.") from exc
        channel, user, identity = claims.get("c"), claims.get("u"), claims.get("i")
        if not (isinstance(channel, str) and isinstance(user, str) and isinstance(identity, str)):
            raise ControlRefusedError(401, "This meeting session is not valid any more.")
        if not (is_mattermost_id(channel) and is_mattermost_id(user)):
            raise ControlRefusedError(401, "This meeting session is not valid any more.")
        return Caller(ChannelId(channel), UserId(user), identity)

    async def perform(self, caller: Caller, action: str, body: Mapping[str, Any]) -> None:
        handler = _ACTIONS.get(action)
        if handler is None:
            raise ControlRefusedError(404, f"Unknown meeting action {action[:40]!r}.")
        if action == "stats":
            # About the caller's own connection only; the page's last report is sent as it
            # leaves, and may arrive after LiveKit has seen it go.
            await self._within_limit(caller, action)
            await handler(self, caller, body)
            return
        rooms = self._engine.rooms()
        try:
            present = {p.identity: p for p in await rooms.list_participants(caller.room)}
        except LiveKitNotFoundError as exc:
            raise ControlRefusedError(409, "This meeting has ended.") from exc
        except LiveKitError as exc:
            raise ControlRefusedError(503, "LiveKit cannot be reached right now.") from exc
        me = present.get(caller.identity)
        if me is None or await self._engine.is_removed(caller.channel_id, caller.user_id):
            raise ControlRefusedError(403, "You are not in this meeting.")
        if not await still_member(self._users, caller.channel_id, caller.user_id):
            raise ControlRefusedError(403, NOT_A_MEMBER)
        await self._within_limit(caller, action)
        caller = Caller(caller.channel_id, caller.user_id, caller.identity, me.name)
        if action in HOST_ONLY and not await self._may_host(rooms, caller):
            raise ControlRefusedError(403, "Only the meeting's host can do this.")
        try:
            await handler(self, caller, body)
        except LiveKitNotFoundError as exc:
            raise ControlRefusedError(404, "That participant is no longer in the meeting.") from exc
        except LiveKitError as exc:
            log.warning("livekit.control_failed", action=action, error=str(exc))
            raise ControlRefusedError(503, "LiveKit cannot be reached right now.") from exc

    async def _within_limit(self, caller: Caller, action: str) -> None:
        refusal = await over_limit(
            self._database, caller.room, caller.identity, action, self._clock.now()
        )
        if refusal is not None:
            raise ControlRefusedError(429, refusal)

    async def _may_host(self, rooms: RoomService, caller: Caller) -> bool:
        """The host, or a system admin (who may take host: make-host on themselves)."""
        if await self._is_host(rooms, caller):
            return True
        try:
            user = await self._users.user_now(caller.user_id)  # a role that grants: ask now
        except DirectoryUnavailableError:
            return False
        return user is not None and user.is_system_admin

    async def _is_host(self, rooms: RoomService, caller: Caller) -> bool:
        rooms_listed = await rooms.list_rooms([caller.room])
        return any(meeting_state(room).host == caller.user_id for room in rooms_listed)

    # --- helpers -------------------------------------------------------------------------

    async def _send(
        self, room: str, topic: str, payload: Mapping[str, Any], to: tuple[str, ...] = ()
    ) -> None:
        data = orjson.dumps(dict(payload))
        await self._engine.rooms().send_data(room, data, topic=topic, destination_identities=to)

    async def _notice(self, room: str, kind: str, text: str, to: tuple[str, ...] = ()) -> None:
        await self._send(room, NOTICE, {"kind": kind, "text": text}, to)

    async def _send_hands(self, room: str, queue: list[dict[str, Any]]) -> None:
        await self._send(room, HANDS, {"queue": queue})

    async def _target(self, caller: Caller, body: Mapping[str, Any]) -> Participant:
        identity = body.get("identity")
        if not isinstance(identity, str) or not identity or len(identity) > 128:
            raise ControlRefusedError(400, "Say whom this is for (identity).")
        return await self._engine.rooms().get_participant(caller.room, identity)

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # --- actions -------------------------------------------------------------------------

    async def raise_hand(self, caller: Caller, body: Mapping[str, Any]) -> None:
        async with self._database.transaction() as conn:
            await room_state_repo.raise_hand(
                conn, caller.room, caller.identity, caller.name, self._now_ms()
            )
            queue = await room_state_repo.hands(conn, caller.room, MAX_HANDS)
        await self._send_hands(caller.room, queue)

    async def lower_hand(self, caller: Caller, body: Mapping[str, Any]) -> None:
        identity = body.get("identity", caller.identity)
        if not isinstance(identity, str) or not identity or len(identity) > MAX_IDENTITY:
            raise ControlRefusedError(400, "Say whose hand to lower (identity).")
        if identity != caller.identity and not await self._is_host(self._engine.rooms(), caller):
            raise ControlRefusedError(403, "Only the meeting's host can lower someone's hand.")
        async with self._database.transaction() as conn:
            await room_state_repo.lower_hand(conn, caller.room, identity)
            queue = await room_state_repo.hands(conn, caller.room, MAX_HANDS)
        await self._send_hands(caller.room, queue)

    async def lower_all_hands(self, caller: Caller, body: Mapping[str, Any]) -> None:
        async with self._database.transaction() as conn:
            await room_state_repo.lower_all_hands(conn, caller.room)
        await self._send_hands(caller.room, [])

    async def react(self, caller: Caller, body: Mapping[str, Any]) -> None:
        emoji = body.get("emoji")
        if (
            not isinstance(emoji, str)
            or not emoji
            or len(emoji.encode("utf-16-le")) > 2 * MAX_EMOJI
        ):
            raise ControlRefusedError(400, "That is not a reaction.")
        payload = {"identity": caller.identity, "name": caller.name, "emoji": emoji}
        await self._send(caller.room, REACTION, payload)

    async def chat(self, caller: Caller, body: Mapping[str, Any]) -> None:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHAT:
            raise ControlRefusedError(400, f"A chat message is 1 to {MAX_CHAT} characters.")
        at = self._now_ms()
        line = {
            "id": f"{caller.identity}-{at}",
            "name": caller.name,
            "text": text,
            "at": at,
            "source": "meeting",
        }
        async with self._database.transaction() as conn:
            await room_state_repo.add_chat_line(conn, caller.room, line, self._clock.now())
        await self._send(caller.room, CHAT, line)
        if self._to_thread is not None:
            await self._to_thread(caller.channel_id, caller.name, text, str(line["id"]))

    async def from_thread(
        self, channel_id: ChannelId, name: str, text: str, line_id: str, at: int
    ) -> None:
        """A reply in the meeting card's Mattermost thread, shown in the meeting."""
        room = room_name(channel_id)
        line = {"id": line_id, "name": name, "text": text[:MAX_CHAT], "at": at,
                "source": "mattermost"}  # fmt: skip
        try:
            await self._send(room, CHAT, line)
        except (LiveKitNotFoundError, EngineUnavailableError):
            return  # not a LiveKit meeting, its room is gone, or LiveKit is not configured
        async with self._database.transaction() as conn:
            await room_state_repo.add_chat_line(conn, room, line, self._clock.now())

    async def recent_chat(self, room: str) -> list[dict[str, Any]]:
        """The lines a joining device is sent (the newest RECENT_CHAT)."""
        async with self._database.read() as conn:
            return await room_state_repo.recent_chat(conn, room, RECENT_CHAT)

    async def welcome(self, room: str, identity: str) -> None:
        """A device joined: send it the hands queue and the recent chat, as the page expects."""
        to = (identity,)
        async with self._database.read() as conn:
            queue = await room_state_repo.hands(conn, room, MAX_HANDS)
            lines = await room_state_repo.recent_chat(conn, room, RECENT_CHAT)
        if queue:
            await self._send(room, HANDS, {"queue": queue}, to)
        for line in lines:
            await self._send(room, CHAT, line, to)

    async def forget(self, room: str) -> None:
        """The room's meeting is over: a new one in the same channel starts with no hands up,
        no chat and fresh reaction limits."""
        async with self._database.transaction() as conn:
            await room_state_repo.forget_room(conn, room)

    async def stats(self, caller: Caller, body: Mapping[str, Any]) -> None:
        """The page's summary of its own connection (what /meet stats shows its user)."""
        report = parse_stats(body, self._clock.now())
        if report is None:
            raise ControlRefusedError(400, "Statistics are four numbers within their bounds.")
        async with self._database.transaction() as conn:
            await room_state_repo.save_stats(conn, caller.user_id, report)

    async def last_stats(self, user_id: UserId) -> CallStats | None:
        """The user's last report, from any device, whichever replica it reached."""
        async with self._database.read() as conn:
            return await room_state_repo.last_stats(conn, user_id)

    async def mute(self, caller: Caller, body: Mapping[str, Any]) -> None:
        target = await self._target(caller, body)
        await self._mute_sources(caller.room, target, ("MICROPHONE",))
        await self._notice(
            caller.room, "muted-by-host", "You were muted by the host.", (target.identity,)
        )

    async def mute_all(self, caller: Caller, body: Mapping[str, Any]) -> None:
        for participant in await self._engine.rooms().list_participants(caller.room):
            if participant.identity != caller.identity:
                await self._mute_sources(caller.room, participant, ("MICROPHONE",))
        await self._notice(caller.room, "muted-by-host", "The host muted everyone.")

    async def ask_unmute(self, caller: Caller, body: Mapping[str, Any]) -> None:
        target = await self._target(caller, body)
        text = "The host asks you to unmute."
        await self._notice(caller.room, "ask-unmute", text, (target.identity,))

    async def stop_screenshare(self, caller: Caller, body: Mapping[str, Any]) -> None:
        target = await self._target(caller, body)
        await self._mute_sources(caller.room, target, ("SCREEN_SHARE", "SCREEN_SHARE_AUDIO"))

    async def remove(self, caller: Caller, body: Mapping[str, Any]) -> None:
        target = await self._target(caller, body)
        user = target.attributes.get(USER_ATTRIBUTE, "")
        # LiveKit does not revoke the removed device's token: meetbridge refuses that person
        # new tokens for this meeting, and the removed identity's control calls.
        await self._engine.update_state(caller.channel_id, removed=user or target.identity)
        await self._notice(
            caller.room, "removed", "You were removed from the meeting.", (target.identity,)
        )
        await self._engine.rooms().remove_participant(caller.room, target.identity)

    async def make_host(self, caller: Caller, body: Mapping[str, Any]) -> None:
        target = await self._target(caller, body)
        user = target.attributes.get(USER_ATTRIBUTE, "")
        if not is_mattermost_id(user):
            raise ControlRefusedError(400, "Only a Mattermost user can be host.")
        await self._engine.apply_host(caller.channel_id, UserId(user))
        text = f"{target.name or 'Someone'} is now the host."
        await self._notice(caller.room, "host-changed", text)

    async def end(self, caller: Caller, body: Mapping[str, Any]) -> None:
        await self._notice(caller.room, "ended", "The host ended the meeting.")
        await self._engine.end(caller.channel_id)
        await self.forget(caller.room)

    async def recording(self, caller: Caller, body: Mapping[str, Any]) -> None:
        """Start (``{"on": true}``) or stop the meeting's recording; every page is told."""
        on = body.get("on")
        if not isinstance(on, bool):
            raise ControlRefusedError(400, 'Say whether to record: {"on": true} or false.')
        if self._recordings is None:
            raise ControlRefusedError(409, "Recording is not available on this meetbridge.")
        try:
            if on:
                await self._recordings.start(caller.channel_id, caller.user_id)
            else:
                await self._recordings.stop(caller.channel_id)
        except RecordingRefusedError as refused:
            raise ControlRefusedError(409, str(refused)) from refused

    async def captions(self, caller: Caller, body: Mapping[str, Any]) -> None:
        """Turn live captions on (``{"on": true}``) or off; every page is told."""
        on = body.get("on")
        if not isinstance(on, bool):
            raise ControlRefusedError(400, 'Say whether to caption: {"on": true} or false.')
        if self._captions is None:
            raise ControlRefusedError(409, "Live captions are not available on this meetbridge.")
        try:
            if on:
                await self._captions.start(caller.channel_id, caller.user_id)
            else:
                await self._captions.stop(caller.channel_id)
        except CaptionsRefusedError as refused:
            raise ControlRefusedError(409, str(refused)) from refused

    async def _mute_sources(
        self, room: str, participant: Participant, sources: tuple[str, ...]
    ) -> None:
        for track in participant.tracks:
            if track.source in sources and not track.muted:
                await self._engine.rooms().mute_published_track(
                    room, participant.identity, track.sid
                )


_ACTIONS: dict[str, Action] = {
    "raise-hand": MeetingControls.raise_hand,
    "lower-hand": MeetingControls.lower_hand,
    "lower-all-hands": MeetingControls.lower_all_hands,
    "react": MeetingControls.react,
    "chat": MeetingControls.chat,
    "stats": MeetingControls.stats,
    "mute": MeetingControls.mute,
    "mute-all": MeetingControls.mute_all,
    "ask-unmute": MeetingControls.ask_unmute,
    "stop-screenshare": MeetingControls.stop_screenshare,
    "remove": MeetingControls.remove,
    "make-host": MeetingControls.make_host,
    "end": MeetingControls.end,
    "recording": MeetingControls.recording,
    "captions": MeetingControls.captions,
}
