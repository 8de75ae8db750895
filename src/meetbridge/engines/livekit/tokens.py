"""LiveKit access tokens: who a participant is and what the SFU lets them do.

A token is an HS256 JWT signed with the API secret, ``iss`` = API key, ``sub`` = identity, and a
``video`` grant. LiveKit treats an absent ``canPublish``/``canSubscribe``/``canPublishData`` as
*true*, so a permission meetbridge withholds is written out as ``false``, never left out.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meetbridge.engines.livekit import hs256

DEFAULT_TTL = 6 * 3600  # seconds; LiveKit's SDKs use the same default for join tokens
ADMIN_TTL = 120  # server API calls are immediate; a leaked admin token must not last


class TrackSource(enum.StrEnum):
    """Spelling used in token grants (the Twirp API spells them in upper case)."""

    CAMERA = "camera"
    MICROPHONE = "microphone"
    SCREEN_SHARE = "screen_share"
    SCREEN_SHARE_AUDIO = "screen_share_audio"


ALL_SOURCES = tuple(TrackSource)


@dataclass(frozen=True, slots=True)
class VideoGrant:
    """The ``video`` claim. ``None`` means "leave it to LiveKit's default"."""

    room: str | None = None
    room_join: bool = False
    room_create: bool = False
    room_list: bool = False
    room_admin: bool = False
    room_record: bool = False
    ingress_admin: bool = False
    can_publish: bool | None = None
    can_subscribe: bool | None = None
    can_publish_data: bool | None = None
    can_publish_sources: tuple[TrackSource, ...] | None = None
    can_update_own_metadata: bool = False
    hidden: bool = False
    recorder: bool = False
    agent: bool = False
    destination_room: str | None = None

    def claim(self) -> dict[str, Any]:
        flags = {
            "roomJoin": self.room_join,
            "roomCreate": self.room_create,
            "roomList": self.room_list,
            "roomAdmin": self.room_admin,
            "roomRecord": self.room_record,
            "ingressAdmin": self.ingress_admin,
            "canUpdateOwnMetadata": self.can_update_own_metadata,
            "hidden": self.hidden,
            "recorder": self.recorder,
            "agent": self.agent,
        }
        defaults_true = {
            "canPublish": self.can_publish,
            "canSubscribe": self.can_subscribe,
            "canPublishData": self.can_publish_data,
        }
        claim: dict[str, Any] = {"room": self.room} if self.room else {}
        claim |= {name: True for name, value in flags.items() if value}
        claim |= {name: value for name, value in defaults_true.items() if value is not None}
        if self.can_publish_sources is not None:
            claim["canPublishSources"] = [str(source) for source in self.can_publish_sources]
        if self.destination_room:
            claim["destinationRoom"] = self.destination_room
        return claim


def member_grant(room: str, sources: tuple[TrackSource, ...] = ALL_SOURCES) -> VideoGrant:
    """A person in a meeting: joins one room, publishes the given sources, sends data."""
    return VideoGrant(
        room=room,
        room_join=True,
        can_publish=bool(sources),
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=sources,
    )


def listener_grant(room: str) -> VideoGrant:
    """An invisible service participant (recorder, captions): subscribes and sends data only."""
    return VideoGrant(
        room=room,
        room_join=True,
        hidden=True,
        can_publish=False,
        can_subscribe=True,
        can_publish_data=True,
    )


def recorder_grant(room: str) -> VideoGrant:
    """The recorder: hidden like a listener, marked as a recorder for LiveKit, and unable to
    send data messages (it only listens; a recorder taken over through a decoder must not
    speak in the room as meetbridge)."""
    return dataclasses.replace(listener_grant(room), recorder=True, can_publish_data=False)


def admin_grant(room: str | None = None) -> VideoGrant:
    """The server API: create/list/delete rooms, and manage participants of ``room``."""
    return VideoGrant(room=room, room_admin=room is not None, room_create=True, room_list=True)


@dataclass(frozen=True, slots=True)
class AccessTokenRequest:
    grant: VideoGrant
    identity: str | None = None
    name: str | None = None
    metadata: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    ttl: int = DEFAULT_TTL


def mint(api_key: str, api_secret: str, request: AccessTokenRequest, now: float) -> str:
    """A signed access token valid from ``now`` for ``request.ttl`` seconds.

    Raises:
        ValueError: the request itself is wrong (no key or secret, a join without identity,
            a non-positive ttl).
    """
    if not api_key or not api_secret:
        raise ValueError("an API key and secret are needed to sign a token")
    if request.grant.room_join and not request.identity:
        raise ValueError("a token that joins a room needs an identity")
    if request.ttl <= 0:
        raise ValueError("ttl must be positive")
    issued = int(now)
    claims: dict[str, Any] = {"iss": api_key}
    if request.identity:
        claims["sub"] = request.identity
    claims |= {"nbf": issued, "iat": issued, "exp": issued + request.ttl}
    if request.name:
        claims["name"] = request.name
    if request.metadata:
        claims["metadata"] = request.metadata
    if request.attributes:
        claims["attributes"] = dict(request.attributes)
    claims["video"] = request.grant.claim()
    return hs256.encode(claims, api_secret)
