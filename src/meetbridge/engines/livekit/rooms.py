"""LiveKit's RoomService over Twirp: rooms and the people in them, from the server side.

Each call is ``POST {url}/twirp/livekit.RoomService/{Method}`` with a JSON body and a freshly
minted admin token (``ADMIN_TTL`` seconds; participant calls are scoped to their room, as
LiveKit requires). The caller owns the ``httpx2.AsyncClient`` (base URL, timeouts, transport).

LiveKitError
 ├── LiveKitUnavailableError    network trouble, 5xx, or an answer that is not LiveKit's shape
 └── LiveKitApiError            LiveKit refused the call, with its Twirp code and message
      ├── LiveKitNotFoundError        no such room or participant (Twirp not_found)
      └── LiveKitUnauthorizedError    the key/secret or the token's grants are not accepted
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx2
import orjson

from meetbridge.clock import Clock
from meetbridge.engines.livekit.models import (
    MalformedError,
    Participant,
    Permission,
    Room,
    Track,
    obj,
    participant_from,
    participants_from,
    room_from,
    rooms_from,
    track_from,
)
from meetbridge.engines.livekit.tokens import ADMIN_TTL, AccessTokenRequest, admin_grant, mint

T = TypeVar("T")
SERVICE_PATH = "/twirp/livekit.RoomService/"
_UNAVAILABLE_CODES = {"unavailable", "internal", "unknown", "deadline_exceeded", "canceled"}
_UNAUTHORIZED_CODES = {"unauthenticated", "permission_denied"}


class LiveKitError(Exception):
    """Root of everything the LiveKit server API client raises."""


class LiveKitUnavailableError(LiveKitError):
    pass


class LiveKitApiError(LiveKitError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"LiveKit {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class LiveKitNotFoundError(LiveKitApiError):
    pass


class LiveKitUnauthorizedError(LiveKitApiError):
    pass


def http_url(url: str) -> str:
    """The server API base for a LiveKit URL as clients know it (ws:// or wss://)."""
    for socket_scheme, http_scheme in (("wss://", "https://"), ("ws://", "http://")):
        if url.startswith(socket_scheme):
            return http_scheme + url.removeprefix(socket_scheme)
    return url.rstrip("/")


def build_http_client(
    url: str, timeout: float = 10.0, transport: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=http_url(url),
        headers={"User-Agent": "meetbridge"},
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 3.0)),
        transport=transport,
    )


def permission_body(permission: Permission) -> dict[str, Any]:
    return {
        "can_subscribe": permission.can_subscribe,
        "can_publish": permission.can_publish,
        "can_publish_data": permission.can_publish_data,
        "can_publish_sources": list(permission.can_publish_sources),
        "hidden": permission.hidden,
        "can_update_metadata": permission.can_update_metadata,
    }


class RoomService:
    def __init__(
        self, http: httpx2.AsyncClient, api_key: str, api_secret: str, clock: Clock
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock

    async def close(self) -> None:
        await self._http.aclose()

    async def create_room(
        self,
        name: str,
        *,
        max_participants: int = 0,
        empty_timeout: int = 0,
        departure_timeout: int = 0,
        metadata: str = "",
        node_id: str = "",
    ) -> Room:
        """Create ``name`` (or return it unchanged if it exists). 0 keeps the server default;
        ``node_id`` pins the room to one node of a cluster (else LiveKit's selector picks)."""
        body = {
            "name": name,
            "max_participants": max_participants,
            "empty_timeout": empty_timeout,
            "departure_timeout": departure_timeout,
            "metadata": metadata,
        }
        if node_id:
            body["node_id"] = node_id
        return await self._call("CreateRoom", body, room_from)

    async def list_rooms(self, names: Sequence[str] = ()) -> list[Room]:
        """Every active room, or only those among ``names``."""
        return await self._call("ListRooms", {"names": list(names)}, rooms_from)

    async def delete_room(self, room: str) -> None:
        """Close the room for everyone in it (room_finished follows)."""
        await self._call("DeleteRoom", {"room": room}, _nothing)

    async def list_participants(self, room: str) -> list[Participant]:
        return await self._call("ListParticipants", {"room": room}, participants_from, room)

    async def get_participant(self, room: str, identity: str) -> Participant:
        body = {"room": room, "identity": identity}
        return await self._call("GetParticipant", body, participant_from, room)

    async def remove_participant(self, room: str, identity: str) -> None:
        """Disconnect ``identity``; LiveKit also refuses its tokens issued before now."""
        body = {"room": room, "identity": identity}
        await self._call("RemoveParticipant", body, _nothing, room)

    async def mute_published_track(
        self, room: str, identity: str, track_sid: str, muted: bool = True
    ) -> Track | None:
        """Mute (or, if the server allows remote unmute, unmute) one published track."""
        body = {"room": room, "identity": identity, "track_sid": track_sid, "muted": muted}
        return await self._call("MutePublishedTrack", body, _muted_track, room)

    async def update_participant(
        self,
        room: str,
        identity: str,
        *,
        metadata: str | None = None,
        permission: Permission | None = None,
        name: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Participant:
        """Change what is given. LiveKit ignores an empty metadata/name (they cannot be
        cleared), and an attribute set to "" is deleted."""
        body: dict[str, Any] = {"room": room, "identity": identity}
        if metadata is not None:
            body["metadata"] = metadata
        if permission is not None:
            body["permission"] = permission_body(permission)
        if name is not None:
            body["name"] = name
        if attributes is not None:
            body["attributes"] = dict(attributes)
        return await self._call("UpdateParticipant", body, participant_from, room)

    async def update_room_metadata(self, room: str, metadata: str) -> Room:
        body = {"room": room, "metadata": metadata}
        return await self._call("UpdateRoomMetadata", body, room_from, room)

    async def send_data(
        self,
        room: str,
        data: bytes,
        *,
        reliable: bool = True,
        destination_identities: Sequence[str] = (),
        topic: str | None = None,
    ) -> None:
        """Send a data packet to everyone in ``room`` (or only ``destination_identities``)."""
        body: dict[str, Any] = {
            "room": room,
            "data": base64.b64encode(data).decode("ascii"),
            "kind": "RELIABLE" if reliable else "LOSSY",
            "destination_identities": list(destination_identities),
        }
        if topic is not None:
            body["topic"] = topic
        await self._call("SendData", body, _nothing, room)

    async def _call(
        self,
        method: str,
        body: Mapping[str, Any],
        parse: Callable[[dict[str, Any]], T],
        room: str | None = None,
    ) -> T:
        """POST ``body`` to ``method`` with an admin token (scoped to ``room`` when given)."""
        token = mint(
            self._api_key,
            self._api_secret,
            AccessTokenRequest(grant=admin_grant(room), ttl=ADMIN_TTL),
            self._clock.now(),
        )
        try:
            response = await self._http.post(
                SERVICE_PATH + method,
                content=orjson.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise LiveKitUnavailableError(f"{method}: {exc.__class__.__name__}") from exc
        answer = _decode(method, response)
        try:
            return parse(answer)
        except MalformedError as exc:
            raise LiveKitUnavailableError(f"{method}: unexpected answer ({exc})") from exc


def _nothing(answer: dict[str, Any]) -> None:
    return None


def _muted_track(answer: dict[str, Any]) -> Track | None:
    track = obj(answer, "track")
    return track_from(track) if track is not None else None


def _decode(method: str, response: httpx2.Response) -> dict[str, Any]:
    try:
        answer = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        answer = None
    if response.is_success:
        if not isinstance(answer, dict):
            raise LiveKitUnavailableError(f"{method}: answer is not a JSON object")
        return answer
    raise _error(method, response.status_code, answer if isinstance(answer, dict) else {})


def _error(method: str, status: int, answer: dict[str, Any]) -> LiveKitError:
    raw_code, raw_message = answer.get("code"), answer.get("msg")
    code = raw_code if isinstance(raw_code, str) and raw_code else f"http_{status}"
    message = f"{method}: {raw_message if isinstance(raw_message, str) else ''}"
    if status in (401, 403) or code in _UNAUTHORIZED_CODES:
        return LiveKitUnauthorizedError(status, code, message)
    if status == 404 or code == "not_found":
        return LiveKitNotFoundError(status, code, message)
    if status >= 500 or status == 429 or code in _UNAVAILABLE_CODES:
        return LiveKitUnavailableError(f"LiveKit {status} {code}: {message}")
    return LiveKitApiError(status, code, message)
