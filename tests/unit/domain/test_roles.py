from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain import roles
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Leg, Meeting
from meetbridge.domain.roles import MeetingRole, join_role

CH = ChannelId("c" * 26)
ALICE, BOB, CAROL = UserId("a" * 26), UserId("b" * 26), UserId("k" * 26)


def leg(
    uuid: str,
    user: UserId | None,
    role: str,
    at: float,
    has_media: bool = True,
    protocol: str = "WebRTC",
    muted: bool = False,
) -> Leg:
    return Leg(
        uuid=uuid,
        node="n1",
        display_name=uuid,
        role=role,
        call_tag="",
        user_id=user,
        protocol=protocol,
        has_media=has_media,
        is_muted=muted,
        is_presenting=False,
        joined_at=at,
    )


def meeting(*legs: Leg) -> Meeting:
    running = Meeting(conference=f"matt-{CH}", channel_id=CH, started_at=0.0)
    for each in legs:
        running.put_leg(each)
    return running


def test_the_first_in_is_host_and_later_members_guests() -> None:
    assert join_role(is_direct=False, is_admin=False, host_present=False) is MeetingRole.HOST
    assert join_role(is_direct=False, is_admin=False, host_present=True) is MeetingRole.GUEST


def test_direct_messages_and_admins_are_always_hosts() -> None:
    assert join_role(is_direct=True, is_admin=False, host_present=True) is MeetingRole.HOST
    assert join_role(is_direct=False, is_admin=True, host_present=True) is MeetingRole.HOST


def test_a_control_only_chair_is_not_a_host_present() -> None:
    # meetbridge's own client-API leg (no media) must not make members guests.
    assert not roles.host_present(meeting(leg("api", None, "chair", 1.0, has_media=False)))
    assert roles.host_present(meeting(leg("m", ALICE, "chair", 1.0)))
    assert not roles.host_present(None)


def test_an_ended_meeting_has_no_host_and_nobody_present() -> None:
    over = meeting(leg("m", ALICE, "chair", 1.0))
    over.ended_at = 5.0
    assert not roles.host_present(over) and roles.present_users(over) == []


def test_the_successor_is_the_guest_present_longest_with_all_their_legs() -> None:
    state = meeting(
        leg("c1", CAROL, "guest", 3.0),
        leg("b2", BOB, "guest", 4.0),
        leg("b1", BOB, "guest", 2.0),
        leg("w", None, "unknown", 1.0),  # still entering a PIN: not promoted
        leg("api", None, "chair", 0.5, has_media=False),
    )
    succession = roles.successor(state)
    assert succession is not None
    assert succession.legs == ("b1", "b2")


def test_no_successor_while_a_host_is_present_or_nobody_is_left() -> None:
    assert (
        roles.successor(meeting(leg("a", ALICE, "chair", 1.0), leg("b", BOB, "guest", 0.5))) is None
    )
    assert roles.successor(meeting()) is None
    assert roles.successor(None) is None


def test_the_host_is_the_longest_present_chair_with_an_account() -> None:
    state = meeting(
        leg("x", None, "chair", 0.1),
        leg("b", BOB, "chair", 2.0),
        leg("a", ALICE, "chair", 1.0),
        leg("k", CAROL, "guest", 0.5),
    )
    assert roles.host_user(state) == ALICE
    assert roles.user_is_chair(state, BOB) and not roles.user_is_chair(state, CAROL)
    assert roles.present_users(state) == sorted([ALICE, BOB, CAROL])


def test_muted_on_join_only_in_channels_and_only_webrtc_legs_not_yet_muted() -> None:
    joined = [
        leg("web", ALICE, "guest", 1.0),
        leg("sip", BOB, "guest", 1.0, protocol="SIP"),
        leg("quiet", CAROL, "guest", 1.0, muted=True),
        leg("api", None, "chair", 1.0, has_media=False),
    ]
    assert roles.legs_to_mute_on_join(False, joined) == ["web"]
    assert roles.legs_to_mute_on_join(True, joined) == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["chair", "guest", "unknown"]), st.floats(0, 1e6), st.booleans()),
        max_size=12,
    )
)
def test_a_successor_exists_exactly_when_guests_are_present_without_a_host(
    spec: list[tuple[str, float, bool]],
) -> None:
    state = meeting(
        *(
            leg(f"l{i}", UserId(f"{i:026d}"), role, at, has_media=media)
            for i, (role, at, media) in enumerate(spec)
        )
    )
    media = [(role, at) for role, at, has_media in spec if has_media]
    expected = not any(r == "chair" for r, _ in media) and any(r == "guest" for r, _ in media)
    succession = roles.successor(state)
    assert (succession is not None) == expected
    if succession is not None:
        first = min(at for role, at in media if role == "guest")
        assert state.legs[succession.legs[0]].joined_at == first
