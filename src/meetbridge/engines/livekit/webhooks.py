"""LiveKit webhooks: authenticity, freshness, body integrity, then typed events.

livekit-server POSTs the protobuf ``WebhookEvent`` as JSON with ``Authorization: <JWT>`` (no
"Bearer"): an HS256 token signed with the secret of the configured webhook key, ``iss`` = that
key, valid for 5 minutes, whose ``sha256`` claim is base64(SHA-256(raw body)). Everything is
checked on the raw bytes before the body is parsed. Hostile input yields a ``WebhookRefusal``,
never an exception.

Replays inside the validity window pass these checks by design: every event has a unique
``id``, which the caller remembers to drop repeats.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.models import (
    Egress,
    MalformedError,
    Participant,
    Room,
    Track,
    egress_from,
    integer,
    obj,
    participant_from,
    room_from,
    text,
    track_from,
)


class EventKind(enum.StrEnum):
    ROOM_STARTED = "room_started"
    ROOM_FINISHED = "room_finished"
    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    PARTICIPANT_CONNECTION_ABORTED = "participant_connection_aborted"
    TRACK_PUBLISHED = "track_published"
    TRACK_UNPUBLISHED = "track_unpublished"
    EGRESS_STARTED = "egress_started"
    EGRESS_UPDATED = "egress_updated"
    EGRESS_ENDED = "egress_ended"
    # Authentic, but nothing meetbridge acts on (ingress, agents, events added later).
    OTHER = "other"


_KINDS = {kind.value: kind for kind in EventKind if kind is not EventKind.OTHER}


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str  # unique per event: the same id again is a replay or a retry
    kind: EventKind
    name: str  # the event name as sent, also for kind OTHER
    created_at: int  # unix seconds, 0 when absent
    room: Room | None = None
    participant: Participant | None = None
    track: Track | None = None
    egress: Egress | None = None


@dataclass(frozen=True, slots=True)
class WebhookRefusal:
    """Why a webhook was refused (for logs; answer the sender with a bare 401/400)."""

    reason: str


def verify_webhook(
    body: bytes,
    authorization: str | bytes | None,
    keys: Mapping[str, str],
    now: float,
    leeway: float = hs256.LEEWAY,
) -> WebhookEvent | WebhookRefusal:
    """The event in ``body`` if a key of ``keys`` (api key → secret) signed exactly these bytes."""
    token = _token_of(authorization)
    if token is None:
        return WebhookRefusal("no Authorization token")
    claims = hs256.decode(token, keys.get, now, leeway)
    if isinstance(claims, hs256.Refused):
        return WebhookRefusal(claims.reason)
    if not _body_matches(claims.get("sha256"), body):
        return WebhookRefusal("sha256 claim does not match the body")
    return parse_event(body)


def parse_event(body: bytes) -> WebhookEvent | WebhookRefusal:
    """Parse an (already verified) event body; unknown fields are ignored."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return WebhookRefusal("body is not JSON")
    if not isinstance(data, dict):
        return WebhookRefusal("body is not a JSON object")
    try:
        return _event_from(data)
    except MalformedError as exc:
        return WebhookRefusal(f"malformed event: {exc}")


def _event_from(data: dict[str, Any]) -> WebhookEvent:
    name = text(data, "event")
    event_id = text(data, "id")
    if not name:
        raise MalformedError("no event name")
    if not event_id:
        raise MalformedError("no event id")
    room, participant = obj(data, "room"), obj(data, "participant")
    track, egress = obj(data, "track"), obj(data, "egressInfo")
    return WebhookEvent(
        id=event_id,
        kind=_KINDS.get(name, EventKind.OTHER),
        name=name,
        created_at=integer(data, "createdAt"),
        room=room_from(room) if room is not None else None,
        participant=participant_from(participant) if participant is not None else None,
        track=track_from(track) if track is not None else None,
        egress=egress_from(egress) if egress is not None else None,
    )


def _token_of(authorization: str | bytes | None) -> str | bytes | None:
    if not authorization:
        return None
    if isinstance(authorization, bytes):
        return authorization.removeprefix(b"Bearer ") or None
    return authorization.removeprefix("Bearer ") or None


def _body_matches(claim: object, body: bytes) -> bool:
    if not isinstance(claim, str) or not claim.isascii():
        return False
    try:
        expected = base64.b64decode(claim, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, hashlib.sha256(body).digest())
