"""Pexip's event-sink envelopes (inbox rows of source "pexip") as domain reports.

Infinity numbers events per node (``seq``), retries what it got no answer for and starts again
at 1 after a sink restart: the node cursor (domain/delivery.py) tells a retry from a new run.
Only a valid call tag says who a participant is: a display name is anyone's to choose.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from meetbridge.domain.aliases import channel_of_conference
from meetbridge.domain.call_tags import TagSigner, user_from_call_tag
from meetbridge.domain.delivery import Delivery, NodeCursor, advance, classify
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import EngineReport
from meetbridge.engines.pexip.events import (
    SINK_EVENTS,
    USED_EVENTS,
    Envelope,
    envelope_from_dict,
    to_report,
)
from meetbridge.ports import StoredEvent, Translation

SOURCE = "pexip"
ENGINE = "pexip"


class PexipTranslator:
    source = SOURCE
    engine = ENGINE
    rotates_pins = True

    def __init__(self, alias_prefix: Callable[[], str], call_tags: TagSigner) -> None:
        self._alias_prefix = alias_prefix  # read per event: an admin may change it
        self._call_tags = call_tags

    def translate(self, event: StoredEvent, cursor: NodeCursor | None) -> Translation:
        envelope = envelope_from_dict(orjson.loads(event.body))
        moved = None
        if event.attempts == 0:  # a retried event passed the duplicate check when it first came
            delivery = classify(cursor, envelope.event, envelope.seq, envelope.time)
            if delivery is Delivery.DUPLICATE:
                return Translation("duplicate")
            moved = advance(cursor, delivery, envelope.event, envelope.seq, envelope.time)
        report = to_report(envelope, self._channel_of, self._user_of)
        return Translation(_outcome(envelope, report), report, moved)

    def _channel_of(self, conference: str, tag: str) -> ChannelId | None:
        return channel_of_conference(conference, tag, self._alias_prefix())

    def _user_of(self, call_tag: str, name: str, channel_id: ChannelId) -> UserId | None:
        return user_from_call_tag(self._call_tags, call_tag, channel_id) if call_tag else None


def _outcome(envelope: Envelope, report: EngineReport | None) -> str:
    if report is not None:
        return "applied"
    if envelope.event not in USED_EVENTS:
        return "unused"
    if envelope.event in SINK_EVENTS:
        return "applied"
    return "not_ours"
