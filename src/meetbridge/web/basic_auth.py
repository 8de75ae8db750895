"""HTTP Basic authentication of Infinity's requests, in constant time."""

from __future__ import annotations

import base64
import binascii

from meetbridge.crypto import as_bytes, constant_time_equal
from meetbridge.store.credentials_repo import PexipCredentials


class BasicAuthChecker:
    """Checks an Authorization header against the current Pexip credentials.

    The expected header is precomputed once per set of credentials, so the common case is a
    single constant-time comparison; other spellings (scheme case, spacing) are decoded.
    """

    def __init__(self) -> None:
        self._for: PexipCredentials | None = None
        self._expected = b""

    def check(self, header: str | None, credentials: PexipCredentials | None) -> bool:
        if credentials is None or not header:
            return False
        if credentials is not self._for:
            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
            self._expected, self._for = b"Basic " + token, credentials
        if constant_time_equal(as_bytes(header), self._expected):
            return True
        return _decoded_matches(header, credentials)


def _decoded_matches(header: str, credentials: PexipCredentials) -> bool:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        # Non-ASCII text is not base64: b64decode refuses it with ValueError.
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    username, separator, password = decoded.partition(b":")
    if not separator:
        return False
    # Compare both parts every time, so timing does not say which one was wrong.
    user_ok = constant_time_equal(username, credentials.username)
    password_ok = constant_time_equal(password, credentials.password)
    return user_ok and password_ok
