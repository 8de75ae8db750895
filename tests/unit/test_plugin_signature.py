"""The plugin channel's signature: the same bytes as the Go plugin, and every hostile variant
refused with a reason, never an exception of another kind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from meetbridge.domain.plugin_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_HEADER,
    PluginRequestError,
    SignedRequest,
    sign,
    signed_headers,
    verify,
)

SECRET = "0123456789abcdef0123456789abcdef"
NOW = 1_700_000_000.0
ALICE = "abcdefghijklmnopqrstuvwxyz"


def signed(body: bytes = b'{"channel_id":"c"}', user_id: str = ALICE) -> SignedRequest:
    headers = signed_headers(SECRET, "POST", "/api/plugin/meeting", user_id, body, NOW)
    return SignedRequest(
        "POST",
        "/api/plugin/meeting",
        headers[TIMESTAMP_HEADER],
        headers[SIGNATURE_HEADER],
        headers.get(USER_HEADER, ""),
        body,
    )


def test_signature_is_byte_for_byte_the_one_the_go_plugin_computes() -> None:
    # The same vector as TestSignatureMatchesTheSchemeMeetbridgeUses in plugin/server.
    got = sign(SECRET, "POST", "/api/plugin/meeting", "1700000000", ALICE, b'{"channel_id":"c"}')
    assert got == "031cbc4d15175ecf0188ed31b9a3c239570b0d9f84dbf09e003aa1f8d15918bf"


def test_a_fresh_correct_signature_is_accepted_within_the_window() -> None:
    verify(SECRET, signed(), NOW + 299)
    verify(SECRET, signed(), NOW - 299)


HOSTILE = {
    "no signature": lambda r: replace(r, signature=""),
    "no timestamp": lambda r: replace(r, timestamp=""),
    "negative timestamp": lambda r: replace(r, timestamp="-1"),
    "fractional timestamp": lambda r: replace(r, timestamp="1700000000.5"),
    "huge timestamp": lambda r: replace(r, timestamp="9" * 40),
    "arabic-indic digits": lambda r: replace(r, timestamp="\u0661\u0667" + "\u0660" * 8),
    "superscript digits": lambda r: replace(r, timestamp="¹⁷⁰⁰⁰⁰⁰⁰⁰⁰"),
    "stale": lambda r: replace(r, timestamp=str(int(NOW) - 301)),
    "from the future": lambda r: replace(r, timestamp=str(int(NOW) + 301)),
    "body changed": lambda r: replace(r, body=b'{"channel_id":"d"}'),
    "path changed": lambda r: replace(r, path="/api/plugin/other"),
    "method changed": lambda r: replace(r, method="PUT"),
    "another user": lambda r: replace(r, user_id="zyxwvutsrqponmlkjihgfedcba"),
    "user removed": lambda r: replace(r, user_id=""),
    "uppercase hex": lambda r: replace(r, signature=r.signature.upper()),
    "truncated": lambda r: replace(r, signature=r.signature[:32]),
    "non-ASCII": lambda r: replace(r, signature="é" + r.signature[1:]),
    "lone surrogate": lambda r: replace(r, signature="\udc80" + r.signature[1:]),
    "NUL": lambda r: replace(r, signature="\x00" * 64),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_requests_are_refused_with_a_reason(name: str) -> None:
    with pytest.raises(PluginRequestError) as refused:
        verify(SECRET, HOSTILE[name](signed()), NOW)
    assert refused.value.reason


def test_the_wrong_secret_is_refused() -> None:
    with pytest.raises(PluginRequestError, match="signature"):
        verify(SECRET + "x", signed(), NOW)


def test_meetbridges_own_calls_sign_no_user_and_send_no_user_header() -> None:
    headers = signed_headers(SECRET, "POST", "/api/v1/events", "", b"{}", NOW)
    assert USER_HEADER not in headers
    verify(SECRET, signed(b"{}", user_id=""), NOW)
