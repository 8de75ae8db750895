from __future__ import annotations

import pytest

from meetbridge.crypto import Signer
from meetbridge.domain.access import Access, channel_access
from meetbridge.domain.call_tags import make_call_tag, user_from_call_tag
from meetbridge.domain.channels import ChannelInfo, ChannelKind
from meetbridge.domain.ids import ChannelId, UserId, parse_channel_id
from meetbridge.domain.pins import new_channel_pins
from meetbridge.domain.users import DisplayNameStyle, UserInfo, display_name

DANA = UserInfo(UserId("u" * 26), "dana", nickname="Dee", first_name="Dana", last_name="Reyes")
BARE = UserInfo(UserId("b" * 26), "bare")


@pytest.mark.parametrize(
    ("style", "user", "expected"),
    [
        (DisplayNameStyle.USERNAME, DANA, "dana"),
        (DisplayNameStyle.NICKNAME, DANA, "Dee"),
        (DisplayNameStyle.FULL_NAME, DANA, "Dana Reyes"),
        (DisplayNameStyle.NICKNAME, BARE, "bare"),
        (DisplayNameStyle.FULL_NAME, BARE, "bare"),
        (DisplayNameStyle.FULL_NAME, UserInfo(UserId("c" * 26), "cy", first_name="Cy"), "Cy"),
    ],
)
def test_display_name_follows_setting_and_falls_back(
    style: DisplayNameStyle, user: UserInfo, expected: str
) -> None:
    assert display_name(user, style) == expected


def test_pins_are_random_digits_and_host_differs_from_guest() -> None:
    seen = set()
    for _ in range(200):
        pins = new_channel_pins()
        assert pins.host_pin.isdigit() and 4 <= len(pins.host_pin) <= 20
        assert pins.guest_pin.isdigit() and pins.guest_pin != pins.host_pin
        seen.add(pins.host_pin)
    assert len(seen) > 190  # not one global PIN


def test_channel_access() -> None:
    channel_id = ChannelId("c" * 26)
    open_channel = ChannelInfo(channel_id, ChannelKind.PUBLIC, "x", "X", "t", archived=False)
    archived = ChannelInfo(channel_id, ChannelKind.PUBLIC, "x", "X", "t", archived=True)
    assert channel_access(channel_id, open_channel, frozenset()) is Access.ALLOWED
    assert channel_access(channel_id, open_channel, {channel_id}) is Access.DISALLOWED
    assert channel_access(channel_id, archived, frozenset()) is Access.ARCHIVED
    assert channel_access(channel_id, None, frozenset()) is Access.UNKNOWN


def test_call_tags_are_bound_to_user_and_channel() -> None:
    signer = Signer(b"k" * 32)
    channel, other_channel = ChannelId("c" * 26), ChannelId("d" * 26)
    tag = make_call_tag(signer, channel, DANA.id)
    assert user_from_call_tag(signer, tag, channel) == DANA.id
    assert user_from_call_tag(signer, tag, other_channel) is None
    assert user_from_call_tag(Signer(b"x" * 32), tag, channel) is None
    forged = tag.replace(DANA.id, BARE.id)
    assert user_from_call_tag(signer, forged, channel) is None
    for garbage in ("", "mbu", "mbu..", f"mbu.{DANA.id}.", "something-else", tag + "0"):
        assert user_from_call_tag(signer, garbage, channel) is None


def test_parse_channel_id_explains_bad_input() -> None:
    assert parse_channel_id(" K3F9Q1X7AB8CD2EF4GH6IJ8KL0 ") == "k3f9q1x7ab8cd2ef4gh6ij8kl0"
    with pytest.raises(ValueError, match="not a Mattermost channel id"):
        parse_channel_id("town-square")
