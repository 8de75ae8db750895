"""Reading the user a Mattermost trigger id names (issue 9, item 2).

Mattermost signs each trigger id (``base64(clientTriggerId:userId:millis:signature)``); only
Mattermost can check the signature, when meetbridge asks it to open a dialog. meetbridge reads
the user out of it first, to refuse a request whose trigger belongs to someone else. Hostile
input is "not a trigger", never an exception.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.triggers import trigger_user

CLIENT, USER = "a" * 26, "u" * 26
SIGNATURE = base64.b64encode(b"0E\x02 signature bytes").decode()


def trigger(*parts: str) -> str:
    return base64.b64encode(":".join(parts).encode()).decode()


def test_a_well_formed_trigger_names_its_user() -> None:
    assert trigger_user(trigger(CLIENT, USER, "1764470000000", SIGNATURE)) == USER


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        trigger(CLIENT, USER, "1764470000000"),  # three parts
        trigger(CLIENT, USER, "1764470000000", SIGNATURE, "extra"),  # five parts
        trigger(CLIENT, "not-a-user-id", "1764470000000", SIGNATURE),
        trigger(CLIENT, USER, "soon", SIGNATURE),
        trigger(CLIENT, USER, "1764470000000", ""),
        trigger(CLIENT, USER, "١٢٣", SIGNATURE),  # Arabic-Indic digits
        trigger("é" * 26, USER, "1764470000000", SIGNATURE),
        base64.b64encode(b"\xff\xfe:" + USER.encode() + b":1:sig").decode(),
        "é" + trigger(CLIENT, USER, "1764470000000", SIGNATURE),  # non-ASCII around base64
        trigger(CLIENT, USER, "1764470000000", SIGNATURE) + "\x00",
        "A" * 5000,
    ],
)
def test_anything_else_is_not_a_trigger(value: str) -> None:
    assert trigger_user(value) is None


@pytest.mark.parametrize("value", [None, 42, b"bytes", ["list"], {"dict": 1}])
def test_a_trigger_that_is_not_text_is_not_a_trigger(value: object) -> None:
    assert trigger_user(value) is None


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(value: str) -> None:
    trigger_user(value)


@given(st.binary(max_size=300))
def test_arbitrary_decoded_bytes_never_raise(raw: bytes) -> None:
    trigger_user(base64.b64encode(raw).decode())
