"""Zoom webhook authenticity: the "v0" signature scheme and the URL-validation challenge.

Zoom signs ``"v0:" + timestamp + ":" + raw body`` with HMAC-SHA256 keyed by the app's Secret
Token and sends ``x-zm-signature: v0=<hex>`` with ``x-zm-request-timestamp``. A request is
authentic only if that matches and the timestamp is within ``WINDOW`` of now (replays of old
requests are refused; exact repeats are caught by the caller remembering signatures).

Every request, the ``endpoint.url_validation`` challenge included, must pass this check: the
challenge's answer is HMAC(Secret Token, plainToken), so answering an unsigned challenge would
sign any text an attacker chose, a forged ``v0:{ts}:{body}`` included.
"""

from __future__ import annotations

import hashlib
import hmac

from meetbridge.crypto import constant_time_equal

WINDOW = 300.0  # seconds either side of now
_MAX_TIMESTAMP_DIGITS = 12  # unix seconds; far more digits are never a real timestamp


def signature(secret: str, timestamp: bytes, body: bytes) -> bytes:
    """The ``x-zm-signature`` value Zoom sends for this timestamp and body."""
    message = b"v0:" + timestamp + b":" + body
    return b"v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()


def refusal(
    secret: str, timestamp: bytes | None, body: bytes, given: bytes | None, now: float
) -> str | None:
    """Why a request is not an authentic, fresh Zoom webhook (for logs), or None when it is.

    Works on the raw header bytes: malformed input of any kind is a refusal, never an error.
    """
    if not timestamp or not given:
        return "missing x-zm-signature or x-zm-request-timestamp"
    # Digits only: float() would also take "nan" and "inf", which never go stale.
    if not (timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return "malformed timestamp"
    if abs(now - int(timestamp)) > WINDOW:
        return "stale timestamp"
    if not constant_time_equal(signature(secret, timestamp, body), given):
        return "bad signature"
    return None


def url_validation(secret: str, plain_token: str) -> dict[str, str]:
    """The answer to an (authenticated) ``endpoint.url_validation``."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
