"""LiveKit's objects as meetbridge sees them, parsed from protobuf JSON.

Both webhooks and the Twirp API send protobuf messages as JSON: field names in lowerCamelCase
(the Twirp server may also use the proto names, so both spellings are read), zero values left
out (so an absent ``type`` means AUDIO and an absent ``state`` JOINING), 64-bit integers as
decimal strings, enums by name. Parsers raise ``MalformedError`` on any value of the wrong
type; the callers turn that into a refusal (webhooks) or an API error (rooms).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DECIMAL = re.compile(r"-?[0-9]{1,20}")


class MalformedError(ValueError):
    """A LiveKit message that does not have the shape LiveKit documents."""


@dataclass(frozen=True, slots=True)
class Room:
    sid: str
    name: str
    metadata: str = ""
    num_participants: int = 0
    num_publishers: int = 0
    max_participants: int = 0
    empty_timeout: int = 0
    departure_timeout: int = 0
    creation_time: int = 0  # unix seconds
    creation_time_ms: int = 0
    active_recording: bool = False


@dataclass(frozen=True, slots=True)
class Permission:
    can_subscribe: bool = False
    can_publish: bool = False
    can_publish_data: bool = False
    can_publish_sources: tuple[str, ...] = ()  # CAMERA, MICROPHONE, SCREEN_SHARE, ...
    hidden: bool = False
    can_update_metadata: bool = False


@dataclass(frozen=True, slots=True)
class Track:
    sid: str
    type: str = "AUDIO"  # AUDIO | VIDEO | DATA
    source: str = "UNKNOWN"  # CAMERA | MICROPHONE | SCREEN_SHARE | SCREEN_SHARE_AUDIO
    name: str = ""
    muted: bool = False
    mime_type: str = ""
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class Participant:
    sid: str
    identity: str
    name: str = ""
    metadata: str = ""
    state: str = "JOINING"  # JOINING | JOINED | ACTIVE | DISCONNECTED
    kind: str = "STANDARD"  # STANDARD | INGRESS | EGRESS | SIP | AGENT | ...
    joined_at: int = 0  # unix seconds
    joined_at_ms: int = 0
    is_publisher: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)
    permission: Permission | None = None
    tracks: tuple[Track, ...] = ()
    disconnect_reason: str = ""


@dataclass(frozen=True, slots=True)
class Egress:
    egress_id: str
    room_id: str = ""
    room_name: str = ""
    status: str = "EGRESS_STARTING"
    started_at: int = 0  # unix nanoseconds, as LiveKit reports them
    ended_at: int = 0
    error: str = ""


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


def _raw(data: Mapping[str, Any], name: str) -> Any:
    return data.get(name, data.get(_snake(name)))


def text(data: Mapping[str, Any], name: str, default: str = "") -> str:
    value = _raw(data, name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise MalformedError(f"{name} is not a string")
    return value


def integer(data: Mapping[str, Any], name: str) -> int:
    value = _raw(data, name)
    if value is None:
        return 0
    if isinstance(value, bool):
        raise MalformedError(f"{name} is not an integer")
    if isinstance(value, int):
        return value
    # 64-bit integers come as decimal strings: ASCII digits only (no "1e3", " 1", other scripts).
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    raise MalformedError(f"{name} is not an integer")


def flag(data: Mapping[str, Any], name: str) -> bool:
    value = _raw(data, name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedError(f"{name} is not a boolean")
    return value


def obj(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = _raw(data, name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedError(f"{name} is not an object")
    return value


def items(data: Mapping[str, Any], name: str) -> list[Any]:
    value = _raw(data, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedError(f"{name} is not a list")
    return value


def string_map(data: Mapping[str, Any], name: str) -> dict[str, str]:
    value = obj(data, name) or {}
    if not all(isinstance(v, str) for v in value.values()):
        raise MalformedError(f"{name} has non-string values")
    return value


def _enum(data: Mapping[str, Any], name: str, default: str) -> str:
    # protojson writes enum names; a bare number is legal too (unknown or new values).
    value = _raw(data, name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(data, name, default)


def _objects(data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    listed = items(data, name)
    if not all(isinstance(item, dict) for item in listed):
        raise MalformedError(f"{name} has non-object items")
    return listed


def room_from(data: Mapping[str, Any]) -> Room:
    return Room(
        sid=text(data, "sid"),
        name=text(data, "name"),
        metadata=text(data, "metadata"),
        num_participants=integer(data, "numParticipants"),
        num_publishers=integer(data, "numPublishers"),
        max_participants=integer(data, "maxParticipants"),
        empty_timeout=integer(data, "emptyTimeout"),
        departure_timeout=integer(data, "departureTimeout"),
        creation_time=integer(data, "creationTime"),
        creation_time_ms=integer(data, "creationTimeMs"),
        active_recording=flag(data, "activeRecording"),
    )


def permission_from(data: Mapping[str, Any]) -> Permission:
    sources = items(data, "canPublishSources")
    if not all(isinstance(source, str) for source in sources):
        raise MalformedError("canPublishSources has non-string items")
    return Permission(
        can_subscribe=flag(data, "canSubscribe"),
        can_publish=flag(data, "canPublish"),
        can_publish_data=flag(data, "canPublishData"),
        can_publish_sources=tuple(sources),
        hidden=flag(data, "hidden"),
        can_update_metadata=flag(data, "canUpdateMetadata"),
    )


def track_from(data: Mapping[str, Any]) -> Track:
    return Track(
        sid=text(data, "sid"),
        type=_enum(data, "type", "AUDIO"),
        source=_enum(data, "source", "UNKNOWN"),
        name=text(data, "name"),
        muted=flag(data, "muted"),
        mime_type=text(data, "mimeType"),
        width=integer(data, "width"),
        height=integer(data, "height"),
    )


def participant_from(data: Mapping[str, Any]) -> Participant:
    permission = obj(data, "permission")
    return Participant(
        sid=text(data, "sid"),
        identity=text(data, "identity"),
        name=text(data, "name"),
        metadata=text(data, "metadata"),
        state=_enum(data, "state", "JOINING"),
        kind=_enum(data, "kind", "STANDARD"),
        joined_at=integer(data, "joinedAt"),
        joined_at_ms=integer(data, "joinedAtMs"),
        is_publisher=flag(data, "isPublisher"),
        attributes=string_map(data, "attributes"),
        permission=permission_from(permission) if permission is not None else None,
        tracks=tuple(track_from(track) for track in _objects(data, "tracks")),
        disconnect_reason=_enum(data, "disconnectReason", ""),
    )


def egress_from(data: Mapping[str, Any]) -> Egress:
    return Egress(
        egress_id=text(data, "egressId"),
        room_id=text(data, "roomId"),
        room_name=text(data, "roomName"),
        status=_enum(data, "status", "EGRESS_STARTING"),
        started_at=integer(data, "startedAt"),
        ended_at=integer(data, "endedAt"),
        error=text(data, "error"),
    )


def rooms_from(data: Mapping[str, Any]) -> list[Room]:
    return [room_from(room) for room in _objects(data, "rooms")]


def participants_from(data: Mapping[str, Any]) -> list[Participant]:
    return [participant_from(p) for p in _objects(data, "participants")]
