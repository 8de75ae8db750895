from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.crypto import Signer
from meetbridge.domain.guest_links import (
    DEFAULT_HOURS,
    MAX_HOURS,
    MAX_NAME,
    GuestLink,
    LinkState,
    guest_name,
    link_of_guest_tag,
    make_guest_tag,
    marked_as_guest,
    new_link_id,
    parse_hours,
)
from meetbridge.domain.ids import ChannelId, UserId

SIGNER = Signer(b"k" * 32)
CH, OTHER = ChannelId("c" * 26), ChannelId("d" * 26)


def test_hours_default_to_a_day_and_stay_within_a_week() -> None:
    assert parse_hours("") == DEFAULT_HOURS and parse_hours(" 3 ") == 3
    assert parse_hours(str(MAX_HOURS)) == MAX_HOURS
    for bad in ("0", str(MAX_HOURS + 1), "-2", "1.5", "two", "²", "9" * 50):
        assert parse_hours(bad) is None, bad


def test_a_guest_name_is_cleaned_bounded_and_never_empty() -> None:
    assert guest_name("  Eve \t Smith ") == "Eve Smith"
    assert guest_name("Eve\x00\u202e\u200bX") == "EveX"  # control and format characters go
    assert guest_name("   ") is None and guest_name(None) is None and guest_name(7) is None
    assert len(guest_name("x" * 500) or "") == MAX_NAME


@given(st.text(max_size=300))
def test_any_typed_name_gives_a_short_printable_name_or_none(raw: str) -> None:
    name = guest_name(raw)
    assert name is None or (0 < len(name) <= MAX_NAME and name == name.strip())
    assert name is None or all(ch.isprintable() or ch == " " for ch in name)


def test_guests_are_marked_once() -> None:
    assert marked_as_guest("Eve") == "Eve (guest)"
    assert marked_as_guest("Eve (guest)") == "Eve (guest)"
    assert marked_as_guest(" (guest)") == "Guest (guest)"


def test_a_guest_tag_names_its_link_in_its_channel_only() -> None:
    link = new_link_id()
    tag = make_guest_tag(SIGNER, CH, link)
    assert link_of_guest_tag(SIGNER, tag, CH) == link
    assert link_of_guest_tag(SIGNER, tag, OTHER) is None
    tampered = tag[:-1] + ("1" if tag[-1] == "0" else "0")
    assert link_of_guest_tag(SIGNER, tampered, CH) is None
    for forged in ("", "mbg", f"mbg.{link}", "mbu." + "a" * 26 + ".x", "mbg.ZZ.sig", "é" * 40):
        assert link_of_guest_tag(SIGNER, forged, CH) is None


def test_a_link_is_active_until_it_expires_or_is_revoked() -> None:
    link = GuestLink("0" * 16, CH, UserId("u" * 26), 100.0, 200.0)
    assert link.state(150.0) is LinkState.ACTIVE
    assert link.state(200.0) is LinkState.EXPIRED
    revoked = GuestLink("0" * 16, CH, UserId("u" * 26), 100.0, 200.0, revoked_at=120.0)
    assert revoked.state(150.0) is LinkState.REVOKED
