"""What meetbridge keeps in a LiveKit room's metadata: captions are on only with both a time and
the captioner's identity, and survive the other changes (host, recording) made through it."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from meetbridge.engines.livekit.engine import MeetingState, meeting_state
from meetbridge.engines.livekit.models import Room


def room(metadata: str) -> Room:
    return Room(sid="RM_1", name="mb-x", metadata=metadata)


def test_captions_round_trip_through_the_metadata_with_the_rest() -> None:
    state = MeetingState(host="u1", recording=5, captions=1700, captioner="meetbridge-captioner-1")
    read = meeting_state(room(state.metadata()))
    assert read == state
    # Another change (the recording stops) keeps captions on.
    changed = meeting_state(room(dataclasses.replace(read, recording=None).metadata()))
    assert (changed.captions, changed.captioner) == (1700, "meetbridge-captioner-1")


def test_captions_off_leave_no_trace() -> None:
    data = orjson.loads(MeetingState(host="u1", captions=None, captioner="c").metadata())
    assert "captions" not in data and "captioner" not in data


@pytest.mark.parametrize(
    "metadata",
    [
        '{"captions": 1700}',  # no captioner: nobody would stop
        '{"captioner": "c"}',
        '{"captions": -1, "captioner": "c"}',
        '{"captions": "1700", "captioner": "c"}',
        '{"captions": 1700, "captioner": 7}',
        "not json",
        "[1, 2]",
    ],
)
def test_malformed_captions_in_the_metadata_read_as_off(metadata: str) -> None:
    state = meeting_state(room(metadata))
    assert state.captions is None and state.captioner is None
