"""LiveKit as a MeetingEngine: meetbridge creates the channel's room and mints each device's
access token, so it decides who is in and who is host.

The room's metadata records the host (``{"host": "<user id>"}``): whoever ran ``/meet start``
when it created the room, else the first one in. It lives in LiveKit, so every replica agrees.
LiveKit quirks this follows (tests/e2e/livekit/NOTES.md): the same identity twice kicks the
first, so each device gets its own identity; a full room answers 500, so meetbridge counts
participants itself and refuses with a sentence; rooms are created here, never auto-created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx2
import orjson
import structlog

from meetbridge.clock import Clock
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import ENGLISH, reader
from meetbridge.domain.tokens import TokenCodec
from meetbridge.engines.livekit.models import Participant, Room
from meetbridge.engines.livekit.rooms import (
    LiveKitError,
    LiveKitNotFoundError,
    RoomService,
    build_http_client,
)
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint
from meetbridge.ports import (
    Capability,
    EngineRefusedError,
    EngineUnavailableError,
    JoinRequest,
    JoinTarget,
)

log = structlog.get_logger(__name__)

NAME = "livekit"
ROOM_PREFIX = "mb-"
ROLE_ATTRIBUTE = "meetbridge.role"
USER_ATTRIBUTE = "meetbridge.user"
HOST, PARTICIPANT = "host", "participant"
CONTROLS_PURPOSE = "livekit-controls"
JOIN_TOKEN_TTL = 10 * 60  # to connect with; LiveKit keeps a connected session alive itself
CONTROLS_TTL = 12 * 3600  # the page uses it for as long as the meeting lasts
EMPTY_TIMEOUT = 5 * 60  # a started room nobody joins closes after this
NOT_CONFIGURED = ENGLISH("engine.livekit_not_configured")
UNREACHABLE = ENGLISH("engine.livekit_unreachable")


@dataclass(frozen=True, slots=True)
class LiveKitSettings:
    """Where the server is and how to sign for it (environment over admin settings)."""

    url: str = ""
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    max_participants: int = 100

    @property
    def complete(self) -> bool:
        return bool(self.url and self.api_key and self.api_secret)

    def missing(self) -> str | None:
        absent = [
            name
            for name, value in (
                ("livekit_url", self.url),
                ("livekit_api_key", self.api_key),
                ("livekit_api_secret", self.api_secret),
            )
            if not value
        ]
        return ", ".join(absent) or None


def room_name(channel_id: ChannelId) -> str:
    return f"{ROOM_PREFIX}{channel_id}"


def channel_of_room(name: str) -> ChannelId | None:
    """The channel a room belongs to, None for a room meetbridge did not name."""
    channel = name.removeprefix(ROOM_PREFIX)
    if channel == name or not channel.isalnum() or len(channel) != 26:
        return None
    return ChannelId(channel)


@dataclass(frozen=True, slots=True)
class MeetingState:
    """What meetbridge keeps in the room's metadata: the host, and who was removed (LiveKit
    does not revoke a removed participant's token, so meetbridge refuses them new ones)."""

    host: str | None = None
    removed: tuple[str, ...] = ()
    recording: int | None = None  # since when (ms), while a recording runs: pages show it
    captions: int | None = None  # since when (ms), while captions are on: pages show them
    captioner: str | None = None  # the captioner's identity: it stops when no longer named

    def metadata(self) -> str:
        data: dict[str, object] = {"host": self.host, "removed": list(self.removed)}
        if self.recording is not None:
            data["recording"] = self.recording
        if self.captions is not None and self.captioner:
            data["captions"] = self.captions
            data["captioner"] = self.captioner
        return orjson.dumps(data).decode()


def meeting_state(room: Room) -> MeetingState:
    try:
        data = orjson.loads(room.metadata) if room.metadata else {}
    except orjson.JSONDecodeError:
        return MeetingState()
    if not isinstance(data, dict):
        return MeetingState()
    host, removed, recording = data.get("host"), data.get("removed"), data.get("recording")
    captions, captioner = data.get("captions"), data.get("captioner")
    captions_on = isinstance(captions, int) and captions >= 0 and isinstance(captioner, str)
    return MeetingState(
        host=host if isinstance(host, str) else None,
        removed=tuple(r for r in removed if isinstance(r, str))
        if isinstance(removed, list)
        else (),
        recording=recording if isinstance(recording, int) and recording >= 0 else None,
        captions=captions if captions_on else None,
        captioner=captioner if captions_on else None,
    )


class LiveKitEngine:
    name = NAME
    title = "LiveKit"
    capabilities = frozenset(
        {
            Capability.EVENTS,
            Capability.EMBEDDED_PAGE,
            Capability.HOST_CONTROLS,
            Capability.END_FOR_ALL,
            Capability.RECORDING,
            Capability.CAPTIONS,
        }
    )

    def __init__(
        self,
        settings: Callable[[], LiveKitSettings],
        controls: TokenCodec,
        clock: Clock,
        public_url: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        channel_limit: Callable[[ChannelId], Awaitable[int | None]] | None = None,
    ) -> None:
        self._channel_limit = channel_limit  # a channel's own limit (/meet max), if it has one
        self._settings = settings
        self._controls = controls
        self._clock = clock
        self._public_url = public_url
        self._transport = transport
        self._service: tuple[LiveKitSettings, RoomService] | None = None
        self._retired: list[RoomService] = []

    def settings(self) -> LiveKitSettings:
        return self._settings()

    def missing_configuration(self) -> str | None:
        return self._settings().missing()

    def rooms(self) -> RoomService:
        """The server API for the current settings (rebuilt when an admin changes them)."""
        current = self._settings()
        if not current.complete:
            raise EngineUnavailableError(reader()("engine.livekit_not_configured"))
        if self._service is None or self._service[0] != current:
            if self._service is not None:
                # Requests may still be in flight on the old client: close it at shutdown.
                self._retired.append(self._service[1])
            http = build_http_client(current.url, transport=self._transport)
            self._service = (
                current,
                RoomService(http, current.api_key, current.api_secret, self._clock),
            )
        return self._service[1]

    async def close(self) -> None:
        if self._service is not None:
            await self._service[1].close()
        for retired in self._retired:
            await retired.close()
        self._retired.clear()

    async def prepare(self, channel: ChannelInfo, starter: UserId) -> None:
        await self._ensure_room(channel.id, starter)

    async def _ensure_room(self, channel_id: ChannelId, host: UserId) -> Room:
        """The channel's room, created with ``host`` if it did not exist (CreateRoom leaves an
        existing room, and its host, unchanged)."""
        limit = await self._limit(channel_id)
        try:
            return await self.rooms().create_room(
                room_name(channel_id),
                max_participants=limit,
                empty_timeout=EMPTY_TIMEOUT,
                metadata=MeetingState(host=host).metadata(),
            )
        except LiveKitError as exc:
            log.warning("livekit.create_room_failed", channel_id=channel_id, error=str(exc))
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc

    async def join_target(self, request: JoinRequest) -> JoinTarget:
        settings = self._settings()
        room = await self._ensure_room(request.channel.id, request.user_id)
        state = meeting_state(room)
        if request.user_id in state.removed:
            raise EngineRefusedError(reader()("engine.removed"))
        await self._check_room_has_space(room, await self._limit(request.channel.id))
        role = HOST if state.host == request.user_id else PARTICIPANT
        # One identity per device: the same identity twice would disconnect the first device.
        identity = f"{request.user_id}.{secrets.token_hex(4)}"
        token = mint(
            settings.api_key,
            settings.api_secret,
            AccessTokenRequest(
                grant=member_grant(room.name),
                identity=identity,
                name=request.display_name,
                attributes={ROLE_ATTRIBUTE: role, USER_ATTRIBUTE: request.user_id},
                ttl=JOIN_TOKEN_TTL,
            ),
            self._clock.now(),
        )
        channel = request.channel
        start_muted = not channel.is_conversation  # as in Calls: muted in channels only
        config: dict[str, object] = {
            "engine": NAME,
            "livekit": {"url": settings.url, "token": token},
            "role": role,
            "identity": identity,
            "displayName": request.display_name,
            "startMuted": start_muted,
            "channelTitle": channel.title,
            "conversation": channel.is_conversation,
            "controls": {
                "url": f"{self._public_url}/api/meetings/controls",
                "token": self.controls_token(channel.id, request.user_id, identity),
            },
            "webapp3Url": "",
        }
        return JoinTarget(
            channel=channel,
            user_id=request.user_id,
            display_name=request.display_name,
            engine=NAME,
            embedded=True,
            page_config=config,
            start_muted=start_muted,
        )

    def controls_token(self, channel_id: ChannelId, user_id: UserId, identity: str) -> str:
        """The page's bearer token for the control API: this device in this meeting only."""
        claims = {"c": channel_id, "u": user_id, "i": identity}
        return self._controls.encode(CONTROLS_PURPOSE, claims, self._clock.now(), CONTROLS_TTL)

    async def limit_for(self, channel_id: ChannelId) -> int:
        """The most devices the channel's meeting may have now (its own limit, or the install's)."""
        return await self._limit(channel_id)

    async def _limit(self, channel_id: ChannelId) -> int:
        own = await self._channel_limit(channel_id) if self._channel_limit is not None else None
        return own if own is not None else self._settings().max_participants

    async def _check_room_has_space(self, room: Room, limit: int) -> None:
        # LiveKit answers a join to a full room with a bare 500: count first, say why.
        try:
            present = await self.rooms().list_participants(room.name)
        except LiveKitNotFoundError:
            return
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc
        # meetbridge's own recorder is hidden: it takes nobody's place.
        present = [p for p in present if not (p.permission and p.permission.hidden)]
        if len(present) >= limit:
            raise EngineRefusedError(reader().count("engine.full", limit))

    async def reachable(self) -> bool:
        """Whether the server answers the server API with these credentials."""
        try:
            await asyncio.wait_for(self.rooms().list_rooms(["meetbridge-status-check"]), 3.0)
        except (LiveKitError, EngineUnavailableError, TimeoutError):
            return False
        return True

    async def is_removed(self, channel_id: ChannelId, user_id: UserId) -> bool:
        rooms = await self.rooms().list_rooms([room_name(channel_id)])
        return any(user_id in meeting_state(room).removed for room in rooms)

    async def update_state(
        self, channel_id: ChannelId, host: UserId | None = None, removed: str | None = None
    ) -> MeetingState:
        """Change the host or add someone removed, in the room's metadata."""
        name = room_name(channel_id)
        listed = await self.rooms().list_rooms([name])
        if not listed:
            raise LiveKitNotFoundError(404, "not_found", "room is gone")
        state = meeting_state(listed[0])
        if host is not None:
            state = dataclasses.replace(state, host=host)
        if removed is not None and removed not in state.removed:
            state = dataclasses.replace(state, removed=(*state.removed, removed))
        await self.rooms().update_room_metadata(name, state.metadata())
        return state

    async def set_recording(self, channel_id: ChannelId, since_ms: int | None) -> None:
        """Show (or stop showing) in the room's metadata that a recording runs, so every page,
        including those joining later, shows it. Raises LiveKitError; a gone room is fine."""
        name = room_name(channel_id)
        listed = await self.rooms().list_rooms([name])
        if not listed:
            return
        state = dataclasses.replace(meeting_state(listed[0]), recording=since_ms)
        await self.rooms().update_room_metadata(name, state.metadata())

    async def set_captions(
        self, channel_id: ChannelId, since_ms: int | None, captioner: str | None = None
    ) -> bool:
        """Turn captions on (since when, made by which captioner) or off in the room's metadata:
        pages show them from it, and the captioner stops when it is no longer named. False when
        the room is gone. Raises LiveKitError."""
        name = room_name(channel_id)
        listed = await self.rooms().list_rooms([name])
        if not listed:
            return False
        on = since_ms is not None and bool(captioner)
        state = dataclasses.replace(
            meeting_state(listed[0]),
            captions=since_ms if on else None,
            captioner=captioner if on else None,
        )
        await self.rooms().update_room_metadata(name, state.metadata())
        return True

    async def captions_state(self, channel_id: ChannelId) -> MeetingState | None:
        """The room's state (None when there is no room). Raises LiveKitError."""
        listed = await self.rooms().list_rooms([room_name(channel_id)])
        return meeting_state(listed[0]) if listed else None

    async def host_of(self, channel_id: ChannelId) -> UserId | None:
        try:
            listed = await self.rooms().list_rooms([room_name(channel_id)])
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc
        host = meeting_state(listed[0]).host if listed else None
        return UserId(host) if host else None

    async def present_users(self, channel_id: ChannelId) -> list[UserId]:
        users = {
            participant.attributes.get(USER_ATTRIBUTE, "")
            for participant in await self._participants(channel_id)
        }
        return sorted(UserId(user) for user in users if user)

    async def remove_user(self, channel_id: ChannelId, user_id: UserId) -> int:
        """Every device of the user leaves; unlike the host's remove, they may join again."""
        mine = [
            participant
            for participant in await self._participants(channel_id)
            if participant.attributes.get(USER_ATTRIBUTE) == user_id
        ]
        removed = 0
        for participant in mine:
            try:
                await self.rooms().remove_participant(room_name(channel_id), participant.identity)
            except LiveKitNotFoundError:
                continue  # it left meanwhile: what was asked for
            except LiveKitError as exc:
                raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc
            removed += 1
        return removed

    async def hand_host(self, channel_id: ChannelId, user_id: UserId) -> None:
        try:
            await self.apply_host(channel_id, user_id)
        except LiveKitNotFoundError:
            raise EngineUnavailableError(reader()("engine.meeting_ended")) from None
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc

    async def apply_host(self, channel_id: ChannelId, user_id: UserId) -> None:
        """The room's metadata names the new host; every device's role attribute follows.
        Raises LiveKitError (the control API answers it in its own terms)."""
        room = room_name(channel_id)
        await self.update_state(channel_id, host=user_id)
        for participant in await self.rooms().list_participants(room):
            role = HOST if participant.attributes.get(USER_ATTRIBUTE) == user_id else PARTICIPANT
            if participant.attributes.get(ROLE_ATTRIBUTE) != role:
                await self.rooms().update_participant(
                    room, participant.identity, attributes={ROLE_ATTRIBUTE: role}
                )

    async def _participants(self, channel_id: ChannelId) -> list[Participant]:
        try:
            return await self.rooms().list_participants(room_name(channel_id))
        except LiveKitNotFoundError:
            return []
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc

    async def end(self, channel_id: ChannelId) -> bool:
        try:
            await self.rooms().delete_room(room_name(channel_id))
        except LiveKitNotFoundError:
            return True
        except LiveKitError as exc:
            raise EngineUnavailableError(reader()("engine.livekit_unreachable")) from exc
        return True
