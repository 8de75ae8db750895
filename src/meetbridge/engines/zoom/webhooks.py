"""Zoom webhook authenticity: the "v0" signature scheme and the URL-validation challenge.

Zoom signs ``"v0:" + timestamp + ":" + raw body`` with HMAC-SHA256 keyed by the app's Secret
Token and sends ``x-zm-signature: v0=<hex>`` with ``x-zm-request-timestamp``. A request is
authentic only if that matches and the timestamp is within ``WINDOW`` of now (replays of old
requests are refused; exact repeats are caught by the caller remembering signatures).
"""

from __future__ import annotations

import hashlib
import hmac

from meetbridge.crypto import constant_time_equal

WINDOW = 300.0  # seconds either side of now


class WebhookRefusedError(Exception):
    """Not an authentic, fresh Zoom webhook; the message says why (for logs, not for Zoom)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, given: str | None, now: float) -> None:
    if not timestamp or not given:
        raise WebhookRefusedError("missing x-zm-signature or x-zm-request-timestamp")
    try:
        sent_at = float(timestamp)
    except ValueError as exc:
        raise WebhookRefusedError("malformed timestamp") from exc
    if abs(now - sent_at) > WINDOW:
        raise WebhookRefusedError("stale timestamp")
    if not constant_time_equal(signature(secret, timestamp, body), given):
        raise WebhookRefusedError("bad signature")


def url_validation(secret: str, plain_token: str) -> dict[str, str]:
    """The answer to ``endpoint.url_validation``."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
