"""Event-sink envelopes: validation at intake, translation into domain reports when applied.

Intake only checks the envelope (the part every event shares) so that it can answer fast; the
``data`` of an event is read when the worker applies it, and a field meetbridge does not
understand there is ignored rather than refused (refusing would stall the node's queue).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import (
    ConferenceEnded,
    ConferenceStarted,
    EngineReport,
    LegConnected,
    LegDisconnected,
    LegReport,
    LegUpdated,
)

BULK = "eventsink_bulk"
SUPPORTED_VERSIONS = frozenset({1, 2})
MAX_BULK_EVENTS = 10_000
MAX_SEQ = 2**63 - 1  # what a BIGINT column holds, on SQLite and PostgreSQL alike
MAX_TIME = 1e10  # Unix seconds (the year 2286): a later time would blind restart detection
MAX_NODE = 255
MAX_EVENT = 128
# No value Infinity sends comes near this; a longer string is an attack or a bug.
MAX_STRING = 8192
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

CONFERENCE_EVENTS = frozenset({"conference_started", "conference_updated", "conference_ended"})
PARTICIPANT_EVENTS = frozenset(
    {"participant_connected", "participant_updated", "participant_disconnected"}
)
SINK_EVENTS = frozenset(
    {"eventsink_started", "eventsink_updated", "eventsink_stopped", "eventsink_ended"}
)
USED_EVENTS = CONFERENCE_EVENTS | PARTICIPANT_EVENTS | SINK_EVENTS


class EnvelopeError(ValueError):
    """The body is not a valid event-sink envelope; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Envelope:
    node: str
    seq: int
    version: int
    time: float
    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ValidatedBody:
    """The envelopes of one POST, checked; ``bulk`` when they came in an eventsink_bulk wrapper."""

    envelopes: list[dict[str, Any]]
    bulk: bool


def parse_body(body: bytes) -> ValidatedBody:
    """Decode and check a raw POST body; EnvelopeError says what is wrong with it."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError("the body is not valid JSON") from exc
    # Cheap guards first: a body shorter than MAX_STRING holds no longer string, and JSON can
    # only carry a NUL as the escape "\u0000" (orjson refuses a raw one).
    if len(body) > MAX_STRING or b"\\u0000" in body:
        _check_strings(document)
    return validate_body(document)


def _check_strings(document: Any) -> None:
    """Refuse NULs (PostgreSQL cannot store them) and absurdly long strings, keys included."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                _check_string(key)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _check_string(text: str) -> None:
    if len(text) > MAX_STRING:
        raise EnvelopeError(f"a string longer than {MAX_STRING} characters")
    if "\x00" in text:
        raise EnvelopeError("a string with a NUL character")


def validate_body(document: Any) -> ValidatedBody:
    """Check a decoded POST body: one envelope, or an ``eventsink_bulk`` wrapper of several."""
    if not isinstance(document, dict):
        raise EnvelopeError("the body must be a JSON object (an event-sink envelope)")
    if document.get("event") == BULK:
        return ValidatedBody(_validate_bulk(document), bulk=True)
    _check_header(document, "envelope", bulk=False)
    return ValidatedBody([document], bulk=False)


def _validate_bulk(wrapper: dict[str, Any]) -> list[dict[str, Any]]:
    _check_header(wrapper, "bulk envelope", bulk=True)
    items = wrapper.get("data")
    if not isinstance(items, list):
        raise EnvelopeError("bulk envelope: 'data' must be a list of envelopes")
    if len(items) > MAX_BULK_EVENTS:
        raise EnvelopeError(f"bulk envelope: more than {MAX_BULK_EVENTS} events")
    envelopes = []
    for index, item in enumerate(items):
        where = f"bulk envelope data[{index}]"
        if not isinstance(item, dict):
            raise EnvelopeError(f"{where} must be an object")
        if item.get("event") == BULK:
            raise EnvelopeError(f"{where} is itself a bulk envelope")
        # Inner envelopes normally repeat the node; inherit it when they do not.
        if "node" not in item:
            item = {**item, "node": wrapper["node"]}
        _check_header(item, where, bulk=False)
        envelopes.append(item)
    return envelopes


def envelope_from_dict(item: dict[str, Any]) -> Envelope:
    """An envelope that passed validation (as stored in the inbox)."""
    data = item.get("data")
    return Envelope(
        node=item["node"],
        seq=item["seq"],
        version=item["version"],
        time=float(item["time"]),
        event=item["event"],
        data=data if isinstance(data, dict) else {},
    )


def _check_header(item: dict[str, Any], where: str, bulk: bool) -> None:
    node, seq, version, time, event = (
        item.get("node"),
        item.get("seq"),
        item.get("version"),
        item.get("time"),
        item.get("event"),
    )
    if not _is_name(node, MAX_NODE):
        raise EnvelopeError(
            f"{where}: 'node' must be a non-empty string of at most {MAX_NODE} printable characters"
        )
    if not _is_int(seq) or not 0 <= seq <= MAX_SEQ:
        raise EnvelopeError(f"{where}: 'seq' must be an integer from 0 to 2^63 - 1")
    if not _is_int(version) or version not in SUPPORTED_VERSIONS:
        raise EnvelopeError(f"{where}: 'version' must be 2 (or 1)")
    if not _is_number(time) or not 0 <= time <= MAX_TIME or not math.isfinite(time):
        raise EnvelopeError(f"{where}: 'time' must be a Unix time in seconds")
    if not _is_name(event, MAX_EVENT):
        raise EnvelopeError(
            f"{where}: 'event' must be a non-empty string of at most {MAX_EVENT} "
            "printable characters"
        )
    if not bulk and not isinstance(item.get("data"), dict):
        raise EnvelopeError(f"{where}: 'data' must be an object")


def _is_name(value: object, limit: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= limit and _CONTROL.search(value) is None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- translation into domain reports ---------------------------------------------------------

ChannelResolver = Callable[[str, str], ChannelId | None]
"""(conference name, service tag) -> channel id, or None when the conference is not ours."""

UserResolver = Callable[[str, str, ChannelId], UserId | None]
"""(call tag, display name, channel id) -> the Mattermost user behind a participant, if known."""


def to_report(
    envelope: Envelope, channel_of: ChannelResolver, user_of: UserResolver
) -> EngineReport | None:
    """The domain fact an event states, or None when it is not about a meetbridge meeting."""
    data = envelope.data
    if envelope.event in CONFERENCE_EVENTS:
        return _conference_report(envelope, data, channel_of)
    if envelope.event in PARTICIPANT_EVENTS:
        return _participant_report(envelope, data, channel_of, user_of)
    return None


def _conference_report(
    envelope: Envelope, data: Mapping[str, Any], channel_of: ChannelResolver
) -> EngineReport | None:
    name = _text(data.get("name"))
    channel_id = channel_of(name or "", _text(data.get("tag")) or "")
    if not name or channel_id is None:
        return None
    if envelope.event == "conference_ended":
        at = _number(data.get("end_time")) or envelope.time
        return ConferenceEnded(name, channel_id, envelope.node, at)
    at = _number(data.get("start_time")) or envelope.time
    return ConferenceStarted(name, channel_id, envelope.node, at)


def _participant_report(
    envelope: Envelope,
    data: Mapping[str, Any],
    channel_of: ChannelResolver,
    user_of: UserResolver,
) -> EngineReport | None:
    conference = _text(data.get("conference"))
    uuid = _text(data.get("uuid"))
    channel_id = channel_of(conference or "", _text(data.get("service_tag")) or "")
    if not conference or not uuid or channel_id is None:
        return None
    node = envelope.node
    if envelope.event == "participant_disconnected":
        at = _number(data.get("end_time")) or envelope.time
        return LegDisconnected(conference, channel_id, node, at, uuid)
    call_tag = _text(data.get("call_tag"))
    name = _text(data.get("display_name"))
    leg = LegReport(
        uuid=uuid,
        display_name=name,
        role=_text(data.get("role")),
        call_tag=call_tag,
        user_id=user_of(call_tag or "", name or "", channel_id) if call_tag or name else None,
        protocol=_text(data.get("protocol")),
        has_media=_flag(data.get("has_media")),
        is_muted=_flag(data.get("is_muted")),
        is_presenting=_flag(data.get("is_presenting")),
    )
    if envelope.event == "participant_connected":
        at = _number(data.get("connect_time")) or envelope.time
        return LegConnected(conference, channel_id, node, at, leg)
    return LegUpdated(conference, channel_id, node, envelope.time, leg)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if not _is_number(value) or value <= 0:
        return None
    return float(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("True", "False", "true", "false"):
        return value.lower() == "true"
    return None
