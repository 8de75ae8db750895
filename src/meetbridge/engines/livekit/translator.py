"""LiveKit webhooks (inbox rows of source "livekit", verified at intake) as domain reports.

A room meetbridge named (``mb-<channel id>``) is the channel's meeting; a participant is a leg
(one per device, keyed by its sid), whose Mattermost user is the one meetbridge put in the
identity it minted (``<user id>.<device>``) and in the ``meetbridge.user`` attribute: both come
from the signed access token, and they must agree. LiveKit retries a webhook with the same id;
intake drops the repeats, and folding the same join or leave twice changes nothing anyway.
"""

from __future__ import annotations

import orjson

from meetbridge.domain.delivery import NodeCursor
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.meetings import (
    ConferenceEnded,
    ConferenceStarted,
    EngineReport,
    LegConnected,
    LegDisconnected,
    LegReport,
)
from meetbridge.engines.livekit.engine import (
    ROLE_ATTRIBUTE,
    USER_ATTRIBUTE,
    channel_of_room,
)
from meetbridge.engines.livekit.models import Participant
from meetbridge.engines.livekit.webhooks import EventKind, WebhookEvent, WebhookRefusal, parse_event
from meetbridge.ports import StoredEvent, Translation

SOURCE = "livekit"
ENGINE = "livekit"
NODE = "livekit"  # the events of every LiveKit node arrive through one webhook

_LEFT = (EventKind.PARTICIPANT_LEFT, EventKind.PARTICIPANT_CONNECTION_ABORTED)


class LiveKitTranslator:
    source = SOURCE
    engine = ENGINE
    rotates_pins = False

    def translate(self, event: StoredEvent, cursor: NodeCursor | None) -> Translation:
        parsed = parse_event(event.body.encode())
        if isinstance(parsed, WebhookRefusal):
            raise ValueError(parsed.reason)
        if parsed.room is None or parsed.kind is EventKind.OTHER:
            return Translation("unused")
        channel_id = channel_of_room(parsed.room.name)
        if channel_id is None:
            return Translation("not_ours")
        report = to_report(parsed, channel_id)
        return Translation("applied" if report is not None else "unused", report)


def to_report(event: WebhookEvent, channel_id: ChannelId) -> EngineReport | None:
    assert event.room is not None
    room, at = event.room.name, float(event.created_at or event.room.creation_time)
    if event.kind is EventKind.ROOM_STARTED:
        return ConferenceStarted(room, channel_id, NODE, at)
    if event.kind is EventKind.ROOM_FINISHED:
        return ConferenceEnded(room, channel_id, NODE, at)
    participant = event.participant
    if participant is None or not participant.sid:
        return None
    if participant.permission is not None and participant.permission.hidden:
        return None  # meetbridge's own recorder: not someone in the meeting
    if event.kind is EventKind.PARTICIPANT_JOINED:
        return LegConnected(room, channel_id, NODE, joined_at(participant, at), leg_of(participant))
    if event.kind in _LEFT:
        return LegDisconnected(room, channel_id, NODE, at, participant.sid)
    return None


def joined_at(participant: Participant, fallback: float) -> float:
    """When the participant came in, to the millisecond when LiveKit says: webhook times are whole
    seconds, and two people joining within one second would otherwise tie on the roster."""
    if participant.joined_at_ms > 0:
        return participant.joined_at_ms / 1000
    return fallback


def leg_of(participant: Participant) -> LegReport:
    return LegReport(
        uuid=participant.sid,
        display_name=participant.name or None,
        role=participant.attributes.get(ROLE_ATTRIBUTE),
        user_id=user_of(participant),
        protocol="webrtc",
        has_media=True,
    )


def user_of(participant: Participant) -> UserId | None:
    """The Mattermost user meetbridge minted this participant's token for, if it did."""
    claimed = participant.attributes.get(USER_ATTRIBUTE, "")
    prefix = participant.identity.split(".", 1)[0]
    if claimed == prefix and is_mattermost_id(claimed):
        return UserId(claimed)
    return None


def synthetic(kind: EventKind, event_id: str, room: str, at: float, sid: str = "") -> bytes:
    """A webhook-shaped event meetbridge writes itself when reconciling with the room list."""
    body: dict[str, object] = {
        "event": str(kind),
        "id": event_id,
        "createdAt": str(int(at)),
        "room": {"name": room},
    }
    if sid:
        body["participant"] = {"sid": sid, "identity": ""}
    return orjson.dumps(body)
