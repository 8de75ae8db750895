from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import (
    ConferenceEnded,
    ConferenceStarted,
    EngineReport,
    LegConnected,
    LegDisconnected,
    LegReport,
    LegUpdated,
    Meeting,
    MeetingEnded,
    MeetingEvent,
    MeetingStarted,
    ParticipantChanged,
    ParticipantJoined,
    ParticipantLeft,
    apply_report,
)

CH = ChannelId("c" * 26)
CONF = f"matt-{CH}"


def started(node: str = "n1", at: float = 100.0) -> ConferenceStarted:
    return ConferenceStarted(CONF, CH, node, at)


def ended(node: str = "n1", at: float = 400.0) -> ConferenceEnded:
    return ConferenceEnded(CONF, CH, node, at)


def joined(
    uuid: str, name: str, node: str = "n1", at: float = 110.0, **leg: object
) -> LegConnected:
    fields = {"display_name": name, "role": "chair", "has_media": True, "protocol": "WebRTC"}
    fields.update(leg)
    return LegConnected(CONF, CH, node, at, LegReport(uuid=uuid, **fields))  # type: ignore[arg-type]


def left(uuid: str, node: str = "n1", at: float = 300.0) -> LegDisconnected:
    return LegDisconnected(CONF, CH, node, at, uuid)


def fold(reports: list[EngineReport]) -> tuple[Meeting | None, list[MeetingEvent]]:
    meeting: Meeting | None = None
    events: list[MeetingEvent] = []
    for report in reports:
        transition = apply_report(meeting, report)
        events.extend(transition.events)
        meeting = transition.meeting
    return meeting, events


def kinds(events: list[MeetingEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_simple_meeting() -> None:
    meeting, events = fold(
        [
            started(),
            joined("a", "Dana"),
            joined("b", "Eli", at=120.0),
            left("a"),
            left("b", at=310.0),
            ended(),
        ]
    )
    assert kinds(events) == [
        "MeetingStarted",
        "ParticipantJoined",
        "ParticipantJoined",
        "ParticipantLeft",
        "ParticipantLeft",
        "MeetingEnded",
    ]
    assert meeting is not None and meeting.is_over
    assert meeting.duration == 300.0
    assert meeting.peak_participants == 2
    end = events[-1]
    assert isinstance(end, MeetingEnded)
    assert [a.display_name for a in end.attendees] == ["Dana", "Eli"]


def test_meeting_ends_only_when_every_node_has_ended_it() -> None:
    meeting, events = fold(
        [
            started("n1"),
            started("n2", at=101.0),
            joined("a", "Dana", node="n1"),
            joined("b", "Eli", node="n2"),
            ended("n1", at=200.0),
        ]
    )
    assert meeting is not None and not meeting.is_over
    assert meeting.nodes == {"n2"}
    # n1's participants went with it; n2's stay.
    assert [p.display_name for p in meeting.participants()] == ["Eli"]
    assert isinstance(events[-1], ParticipantLeft)
    transition = apply_report(meeting, ended("n2", at=250.0))
    assert transition.meeting is not None and transition.meeting.is_over
    assert kinds(list(transition.events)) == ["ParticipantLeft", "MeetingEnded"]
    assert transition.meeting.duration == 150.0


def test_api_legs_without_media_are_not_participants() -> None:
    meeting, events = fold([started(), joined("api", "Dana", has_media=False, protocol="API")])
    assert meeting is not None and meeting.participants() == []
    assert kinds(events) == ["MeetingStarted"]
    meeting, events = fold(
        [started(), joined("api", "Dana", has_media=False), joined("media", "Dana", call_tag="t1")]
    )
    assert meeting is not None
    assert [p.display_name for p in meeting.participants()] == ["Dana"]
    assert meeting.peak_participants == 1


def test_two_legs_of_one_user_are_one_participant() -> None:
    user = UserId("u" * 26)
    meeting, events = fold(
        [
            started(),
            joined("laptop", "Dana", user_id=user),
            joined("phone", "Dana", user_id=user, at=130.0),
            left("laptop"),
        ]
    )
    assert meeting is not None
    assert len(meeting.participants()) == 1
    assert meeting.peak_participants == 1
    # The laptop leaving is not the person leaving.
    assert kinds(events)[:2] == ["MeetingStarted", "ParticipantJoined"]
    assert "ParticipantLeft" not in kinds(events)


def test_participant_before_conference_start_starts_the_meeting() -> None:
    meeting, events = fold([joined("a", "Dana", node="n2", at=90.0), started("n1", at=95.0)])
    assert meeting is not None
    assert meeting.started_at == 90.0
    assert meeting.nodes == {"n1", "n2"}
    assert kinds(events) == ["MeetingStarted", "ParticipantJoined"]


def test_partial_updates_keep_unmentioned_fields() -> None:
    meeting, events = fold(
        [
            started(),
            joined("a", "Dana", call_tag="t"),
            LegUpdated(CONF, CH, "n1", 150.0, LegReport(uuid="a", is_muted=True)),
        ]
    )
    assert meeting is not None
    person = meeting.participants()[0]
    assert (person.display_name, person.call_tag, person.is_muted) == ("Dana", "t", True)
    assert isinstance(events[-1], ParticipantChanged)


def test_update_that_brings_media_is_a_join() -> None:
    meeting, events = fold(
        [
            started(),
            joined("a", "Dana", has_media=False),
            LegUpdated(CONF, CH, "n1", 150.0, LegReport(uuid="a", has_media=True)),
        ]
    )
    assert meeting is not None and len(meeting.participants()) == 1
    assert isinstance(events[-1], ParticipantJoined)


def test_unknown_and_late_events_change_nothing() -> None:
    assert apply_report(None, left("ghost")).meeting is None
    assert apply_report(None, ended()).meeting is None
    meeting, _ = fold([started(), joined("a", "Dana")])
    assert meeting is not None
    transition = apply_report(meeting, ended("n9"))
    assert transition.events == () and not meeting.is_over


def test_rejoin_counts_once_in_attendance() -> None:
    meeting, events = fold(
        [
            started(),
            joined("a", "Dana", call_tag="t"),
            left("a"),
            joined("b", "Dana", call_tag="t", at=320.0),
            ended(),
        ]
    )
    assert meeting is not None
    assert len(meeting.attendees) == 1
    assert isinstance(events[0], MeetingStarted)
    assert isinstance(events[-1], MeetingEnded) and len(events[-1].attendees) == 1


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["join", "rename", "leave"]),
            st.integers(0, 5),
            st.sampled_from(["Ana", "Bo", "Cy"]),
        ),
        max_size=40,
    )
)
def test_the_person_index_always_matches_the_legs(operations: list[tuple[str, int, str]]) -> None:
    meeting, _ = fold([started()])
    assert meeting is not None
    for kind, number, name in operations:
        uuid = f"leg-{number}"
        if kind == "join":
            apply_report(meeting, joined(uuid, name))
        elif kind == "rename":
            apply_report(
                meeting, LegUpdated(CONF, CH, "n1", 150.0, LegReport(uuid=uuid, display_name=name))
            )
        elif uuid in meeting.legs:
            apply_report(meeting, left(uuid))
    for person in {leg.person for leg in meeting.legs.values()} | {"name:Zed"}:
        expected = {uuid for uuid, leg in meeting.legs.items() if leg.person == person}
        assert {leg.uuid for leg in meeting.legs_of({person})} == expected


# --- what is left to store, and the count of people present --------------------------------


def updated(uuid: str, node: str = "n1", at: float = 200.0, **leg: object) -> LegUpdated:
    return LegUpdated(CONF, CH, node, at, LegReport(uuid=uuid, **leg))  # type: ignore[arg-type]


_report = st.one_of(
    st.builds(
        lambda i, name, media: joined(f"u{i}", name, has_media=media),
        st.integers(0, 6),
        st.sampled_from(["Ann", "Bo", "Cy"]),
        st.booleans(),
    ),
    st.builds(lambda i, media: updated(f"u{i}", has_media=media), st.integers(0, 6), st.booleans()),
    st.builds(lambda i: left(f"u{i}"), st.integers(0, 6)),
)


@given(st.lists(_report, max_size=40))
def test_present_count_is_the_number_of_people_with_media(reports: list[EngineReport]) -> None:
    meeting, _ = fold([started(), *reports])
    assert meeting is not None
    assert meeting.present_count() == len(meeting.people_present())


def test_a_meeting_read_back_counts_people_present_from_its_legs() -> None:
    meeting, _ = fold([started(), joined("a1", "Ann"), joined("a2", "Ann"), joined("b", "Bo")])
    assert meeting is not None
    copy = Meeting(meeting.conference, meeting.channel_id, 100.0, legs=dict(meeting.legs))
    assert copy.present_count() == 2
    copy.drop_leg("a1")
    assert copy.present_count() == 2  # Ann is still there on her other leg
    copy.drop_leg("a2")
    assert copy.present_count() == 1


def test_only_the_legs_and_attendees_an_event_touched_are_left_to_store() -> None:
    meeting, _ = fold([started(), joined("a", "Ann"), joined("b", "Bo"), joined("c", "Cy")])
    assert meeting is not None
    meeting.mark_stored(3)
    assert (meeting.changed_legs, meeting.changed_attendees, meeting.version) == (set(), set(), 3)

    apply_report(meeting, updated("b", is_muted=True))
    assert meeting.changed_legs == {"b"} and meeting.changed_attendees == set()

    apply_report(meeting, left("c"))
    assert meeting.changed_legs == {"b", "c"} and meeting.changed_attendees == {"name:Cy"}


def test_the_end_leaves_every_attendee_still_present_to_store() -> None:
    meeting, _ = fold([started(), joined("a", "Ann"), joined("b", "Bo"), left("b")])
    assert meeting is not None
    meeting.mark_stored(1)
    apply_report(meeting, ended())
    assert meeting.changed_legs == {"a"}
    assert meeting.changed_attendees == {"name:Ann"}  # Bo's departure was stored already
