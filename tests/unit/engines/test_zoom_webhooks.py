"""Zoom's "v0" webhook signature: only an authentic, fresh request passes; anything else is a
refusal with a reason, never an exception."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.engines.zoom import webhooks

SECRET = "zoom-secret-token"
NOW = 1_800_000_000.0
BODY = b'{"event":"meeting.started","payload":{}}'


def signed(timestamp: bytes, body: bytes = BODY, secret: str = SECRET) -> bytes:
    mac = hmac.new(secret.encode(), b"v0:" + timestamp + b":" + body, hashlib.sha256)
    return b"v0=" + mac.hexdigest().encode()


def test_an_authentic_fresh_request_passes() -> None:
    timestamp = str(int(NOW)).encode()
    assert webhooks.refusal(SECRET, timestamp, BODY, signed(timestamp), NOW) is None


@pytest.mark.parametrize("timestamp", [b"nan", b"NaN", b"inf", b"-inf", b"1e400", b"+Infinity"])
def test_a_non_finite_timestamp_is_refused_even_when_correctly_signed(timestamp: bytes) -> None:
    reason = webhooks.refusal(SECRET, timestamp, BODY, signed(timestamp), NOW)
    assert reason is not None and "timestamp" in reason


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (b"1800000000", "v0=\u00e9\u00e9".encode()),  # non-ASCII signature header
        ("1800000000\u00e9".encode("latin-1"), b"v0=00"),  # non-ASCII timestamp
        (b"1800000000", b""),
        (b"", b"v0=00"),
        (None, b"v0=00"),
        (b"1800000000", None),
        (b"1_800_000_000", b"v0=00"),  # float() would accept the underscores
        (b" 1800000000 ", b"v0=00"),
    ],
)
def test_malformed_headers_are_refused_not_raised(
    timestamp: bytes | None, signature: bytes | None
) -> None:
    assert webhooks.refusal(SECRET, timestamp, BODY, signature, NOW) is not None


def test_a_stale_or_future_timestamp_is_refused() -> None:
    for sent in (NOW - webhooks.WINDOW - 1, NOW + webhooks.WINDOW + 1):
        timestamp = str(int(sent)).encode()
        assert webhooks.refusal(SECRET, timestamp, BODY, signed(timestamp), NOW) == (
            "stale timestamp"
        )


@given(st.binary(max_size=40), st.binary(max_size=200), st.binary(max_size=100))
def test_arbitrary_header_bytes_never_raise(
    timestamp: bytes, signature: bytes, body: bytes
) -> None:
    assert webhooks.refusal(SECRET, timestamp, body, signature, NOW) is not None
