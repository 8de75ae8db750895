"""Who must leave a LiveKit room (engines/livekit/admission.evictions), as a pure rule."""

from __future__ import annotations

from meetbridge.engines.livekit.admission import FULL, LEFT_CHANNEL, REMOVED, Eviction, evictions
from meetbridge.engines.livekit.engine import USER_ATTRIBUTE, MeetingState
from meetbridge.engines.livekit.models import Participant, Permission

ALICE, BOB, CAROL = "a" * 26, "b" * 26, "c" * 26


def device(user: str, joined_ms: int, hidden: bool = False, identity: str = "") -> Participant:
    return Participant(
        sid=f"PA_{joined_ms}",
        identity=identity or f"{user}.{joined_ms}",
        joined_at_ms=joined_ms,
        attributes={USER_ATTRIBUTE: user} if user else {},
        permission=Permission(hidden=hidden) if hidden else None,
    )


def test_everyone_removed_by_the_host_leaves_whatever_device_they_use() -> None:
    present = [device(ALICE, 1), device(BOB, 2), device(BOB, 3)]
    state = MeetingState(host=ALICE, removed=(BOB,))
    assert evictions(present, state, limit=10) == [
        Eviction(f"{BOB}.2", REMOVED),
        Eviction(f"{BOB}.3", REMOVED),
    ]


def test_a_removed_identity_without_a_user_leaves_too() -> None:
    present = [device(ALICE, 1), device("", 2, identity="guest-7")]
    assert evictions(present, MeetingState(removed=("guest-7",)), limit=10) == [
        Eviction("guest-7", REMOVED)
    ]


def test_someone_who_left_the_channel_leaves_the_meeting() -> None:
    present = [device(ALICE, 1), device(CAROL, 2)]
    assert evictions(present, MeetingState(), 10, frozenset({CAROL})) == [
        Eviction(f"{CAROL}.2", LEFT_CHANNEL)
    ]


def test_past_the_limit_the_newest_devices_leave_and_hidden_ones_take_no_place() -> None:
    present = [
        device(CAROL, 30),
        device(ALICE, 10),
        device("", 5, hidden=True, identity="meetbridge-recorder-1"),
        device(BOB, 20),
    ]
    assert evictions(present, MeetingState(), limit=2) == [Eviction(f"{CAROL}.30", FULL)]
    assert evictions(present, MeetingState(), limit=3) == []


def test_someone_removed_does_not_count_against_the_limit() -> None:
    present = [device(ALICE, 1), device(BOB, 2), device(CAROL, 3)]
    assert evictions(present, MeetingState(removed=(BOB,)), limit=2) == [
        Eviction(f"{BOB}.2", REMOVED)
    ]
