"""ActionSigner through its public API: buttons as Mattermost gets them, and every way a click's
context can fail to be one meetbridge made for this channel and this user."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.chat.mattermost.actions import ActionSigner, VerifiedAction
from meetbridge.crypto import Signer

URL = "https://mb.example.com/api/mattermost/action"
SIGNER = ActionSigner(Signer(b"s" * 32), URL)
CHANNEL, USER, OTHER = "c" * 26, "u" * 26, "o" * 26


def context_of(button: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = button["integration"]["context"]
    return context


def test_a_button_carries_its_action_url_and_an_id_old_servers_accept() -> None:
    button = SIGNER.button("Join now", "ring_join", CHANNEL, "7", USER, style="primary")
    assert button["id"] == "ringjoin" and button["id"].isalnum()
    assert (button["name"], button["type"], button["style"]) == ("Join now", "button", "primary")
    assert button["integration"]["url"] == URL
    assert SIGNER.button("x", "zoom-pmi", CHANNEL, "")["id"] == "zoompmi"
    assert SIGNER.button("x", "join", CHANNEL, "")["style"] == "default"


def test_a_personal_button_verifies_only_for_its_user_in_its_channel() -> None:
    context = context_of(SIGNER.button("Join", "ring_join", CHANNEL, "7", USER))
    assert SIGNER.verify(context, CHANNEL, USER) == VerifiedAction("ring_join", CHANNEL, "7", USER)
    assert SIGNER.verify(context, CHANNEL, OTHER) is None
    assert SIGNER.verify(context, "d" * 26, USER) is None


def test_a_channel_button_verifies_for_anyone_in_its_channel() -> None:
    context = context_of(SIGNER.button("Join", "join", CHANNEL, ""))
    assert SIGNER.verify(context, CHANNEL, OTHER) == VerifiedAction("join", CHANNEL, "", "")
    assert SIGNER.verify(context, "d" * 26, OTHER) is None


@pytest.mark.parametrize("field", ["action", "channel_id", "target", "user_id"])
def test_changing_any_signed_field_breaks_the_signature(field: str) -> None:
    context = context_of(SIGNER.button("Join", "ring_join", CHANNEL, "7", USER))
    changed = {**context, field: context[field] + "x"}
    assert SIGNER.verify(changed, changed["channel_id"], changed["user_id"]) is None


@pytest.mark.parametrize("field", ["action", "channel_id", "target", "user_id", "signature"])
@pytest.mark.parametrize("value", [None, 5, ["x"], {"a": 1}, True])
def test_a_missing_or_non_text_field_is_refused(field: str, value: Any) -> None:
    context = context_of(SIGNER.button("Join", "ring_join", CHANNEL, "7", USER))
    assert SIGNER.verify({**context, field: value}, CHANNEL, USER) is None
    del context[field]
    assert SIGNER.verify(context, CHANNEL, USER) is None


@pytest.mark.parametrize("context", [None, "context", 5, [], ["action"], {}])
def test_a_context_that_is_not_an_object_is_refused(context: Any) -> None:
    assert SIGNER.verify(context, CHANNEL, USER) is None


def test_a_button_signed_with_another_key_is_refused() -> None:
    forged = ActionSigner(Signer(b"f" * 32), URL).button("Join", "join", CHANNEL, "")
    assert SIGNER.verify(context_of(forged), CHANNEL, USER) is None


@given(
    context=st.dictionaries(
        st.sampled_from(["action", "channel_id", "target", "user_id", "signature", "extra"]),
        st.one_of(st.none(), st.integers(), st.text(st.characters(max_codepoint=0x7F))),
    )
)
def test_no_made_up_context_verifies(context: dict[str, Any]) -> None:
    assert SIGNER.verify(context, CHANNEL, USER) is None


def test_a_non_ascii_signature_is_refused_not_raised() -> None:
    context = context_of(SIGNER.button("Join", "join", CHANNEL, ""))
    assert SIGNER.verify({**context, "signature": "é" * 32}, CHANNEL, USER) is None


# --- fields that contain the separator (a Zoom topic is user text) -------------------------


def test_fields_that_join_to_the_same_text_do_not_share_a_signature() -> None:
    # ("a|b", "c") and ("a", "b|c") both joined to "…|a|b|c" when fields were joined with "|":
    # a button signed for one was a valid button for the other.
    signed = context_of(SIGNER.button("Start", "zoom_start", CHANNEL, "a|b", "c"))
    forged = {**signed, "target": "a", "user_id": "b|c"}
    assert SIGNER.verify(forged, CHANNEL, "b|c") is None
    other = context_of(SIGNER.button("Start", "zoom_start", CHANNEL, "a", "b|c"))
    assert other["signature"] != signed["signature"]
    assert SIGNER.verify(other, CHANNEL, "b|c") == VerifiedAction("zoom_start", CHANNEL, "a", "b|c")


def test_a_button_signed_before_the_unambiguous_format_is_refused_as_outdated() -> None:
    # Buttons signed as "button|" + "|".join(fields) fail closed: accepting them would keep the
    # ambiguity alive for every old post. They are recognised, so the user is told why.
    legacy_message = "button|" + "|".join(["join", CHANNEL, "", ""])
    legacy = {
        "action": "join",
        "channel_id": CHANNEL,
        "target": "",
        "user_id": "",
        "signature": Signer(b"s" * 32).sign(legacy_message),
    }
    assert SIGNER.verify(legacy, CHANNEL, USER) is None
    assert SIGNER.is_outdated(legacy)
    assert not SIGNER.is_outdated(context_of(SIGNER.button("Join", "join", CHANNEL, "")))
    assert not SIGNER.is_outdated("not a context")
