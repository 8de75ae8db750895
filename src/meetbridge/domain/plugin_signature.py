"""The signed channel between meetbridge and its companion Mattermost plugin (both directions).

Each request carries an HMAC-SHA256, keyed with the shared secret, over::

    "meetbridge-plugin-v1", METHOD, PATH, TIMESTAMP, MATTERMOST-USER-ID, hex(sha256(body))

joined with newlines.

PATH is the path as the receiver routes it. The user id is signed so that meetbridge believes
the ``Mattermost-User-Id`` the plugin forwards only when the plugin vouches for it (Mattermost
itself sets that header for the plugin, from the user's session). meetbridge's own calls to the
plugin sign an empty user id. plugin/server/signature.go implements the same scheme.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from meetbridge.crypto import as_bytes, constant_time_equal

SCHEME = "meetbridge-plugin-v1"
TIMESTAMP_HEADER = "X-Meetbridge-Timestamp"
SIGNATURE_HEADER = "X-Meetbridge-Signature"
USER_HEADER = "Mattermost-User-Id"
MAX_CLOCK_SKEW = 300.0  # seconds either way
MIN_SECRET_LENGTH = 32
_SIGNATURE_LENGTH = 64


class PluginRequestError(Exception):
    """A request that is not from the plugin (or not intact, or too old): 401 with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    """What a receiver has of a request it is asked to trust (header values as received)."""

    method: str
    path: str
    timestamp: str
    signature: str
    user_id: str
    body: bytes


def sign(secret: str, method: str, path: str, timestamp: str, user_id: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((SCHEME, method, path, timestamp, user_id, digest))
    return hmac.new(as_bytes(secret), as_bytes(message), hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, method: str, path: str, user_id: str, body: bytes, now: float
) -> dict[str, str]:
    """The headers that make a request to the plugin (or from it) verifiable."""
    timestamp = str(int(now))
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, method, path, timestamp, user_id, body),
    }
    if user_id:
        headers[USER_HEADER] = user_id
    return headers


def verify(secret: str, request: SignedRequest, now: float) -> None:
    """Return only for a request signed with ``secret`` within the clock window; raise
    PluginRequestError for anything else, whatever text the headers hold."""
    if not request.timestamp or not request.signature:
        raise PluginRequestError("the request is not signed")
    if len(request.timestamp) > 12 or not _is_ascii_digits(request.timestamp):
        raise PluginRequestError("the request's timestamp is malformed")
    if abs(now - int(request.timestamp)) > MAX_CLOCK_SKEW:
        raise PluginRequestError("the request's timestamp is outside the accepted window")
    expected = sign(
        secret, request.method, request.path, request.timestamp, request.user_id, request.body
    )
    # Compared as bytes: a signature of another length or alphabet is simply not equal.
    if len(request.signature) != _SIGNATURE_LENGTH or not constant_time_equal(
        request.signature, expected
    ):
        raise PluginRequestError("the request's signature does not match")


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
