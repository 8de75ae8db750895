"""LiveKit webhooks as meeting reports: who joined, and when, precisely enough to order them."""

from __future__ import annotations

import orjson

from meetbridge.domain.ids import ChannelId
from meetbridge.domain.meetings import LegConnected, apply_report
from meetbridge.engines.livekit.engine import room_name
from meetbridge.engines.livekit.translator import to_report
from meetbridge.engines.livekit.webhooks import WebhookEvent, parse_event

CHANNEL = ChannelId("c" * 26)
SECOND = 1_796_025_283  # both joins below happen within this second


def joined(user: str, name: str, joined_at_ms: int | None) -> WebhookEvent:
    participant: dict[str, object] = {
        "sid": f"PA_{name}",
        "identity": f"{user}.device1",
        "name": name,
        "joinedAt": str(SECOND),
        "attributes": {"meetbridge.user": user},
    }
    if joined_at_ms is not None:
        participant["joinedAtMs"] = str(joined_at_ms)
    body = {
        "event": "participant_joined",
        "id": f"EV_{name}",
        "createdAt": str(SECOND),
        "room": {"name": room_name(CHANNEL)},
        "participant": participant,
    }
    event = parse_event(orjson.dumps(body))
    assert isinstance(event, WebhookEvent)
    return event


def test_a_join_is_timed_by_livekits_millisecond_join_time() -> None:
    report = to_report(joined("a" * 26, "alice", SECOND * 1000 + 96), CHANNEL)
    assert isinstance(report, LegConnected)
    assert report.at == SECOND + 0.096


def test_without_a_millisecond_join_time_the_webhooks_own_time_is_used() -> None:
    report = to_report(joined("a" * 26, "alice", None), CHANNEL)
    assert isinstance(report, LegConnected)
    assert report.at == SECOND


def test_two_joins_in_one_second_are_listed_in_the_order_people_came_even_when_reported_late() -> (
    None
):
    # Bob's participant_joined reaches meetbridge first, but Alice joined 300 ms before him.
    bob = to_report(joined("b" * 26, "bob", SECOND * 1000 + 400), CHANNEL)
    alice = to_report(joined("a" * 26, "alice", SECOND * 1000 + 100), CHANNEL)
    assert bob is not None and alice is not None
    meeting = apply_report(None, bob).meeting
    meeting = apply_report(meeting, alice).meeting
    assert meeting is not None
    assert [p.display_name for p in meeting.participants()] == ["alice", "bob"]
