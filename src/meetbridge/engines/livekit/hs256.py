"""Compact JWS with HMAC-SHA256 (RFC 7515/7519), the only JWT form LiveKit uses.

Written here rather than taken from a library because it is this small and only HS256 may ever
be accepted: the algorithm is fixed, never read from the token. ``decode`` takes hostile input
and answers with the claims or a ``Refused`` with the reason; it never raises on bad tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

LEEWAY = 60.0  # seconds of clock skew tolerated on exp/nbf, as LiveKit's own verifier does
MAX_TOKEN_LENGTH = 16_384  # LiveKit's tokens are well under 2 KiB even with metadata

_HEADER = {"alg": "HS256", "typ": "JWT"}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")

SecretLookup = Callable[[str], "str | bytes | None"]


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a token was not accepted (for logs; never echo a token back)."""

    reason: str


class _Malformed(Exception):
    pass


def encode(claims: Mapping[str, Any], secret: str | bytes) -> str:
    signing_input = _b64(orjson.dumps(_HEADER)) + "." + _b64(orjson.dumps(dict(claims)))
    return signing_input + "." + _b64(_sign(signing_input.encode("ascii"), secret))


def decode(
    token: str | bytes,
    secret_for: SecretLookup,
    now: float,
    leeway: float = LEEWAY,
) -> dict[str, Any] | Refused:
    """The verified claims of ``token``, whose issuer picks the secret through ``secret_for``."""
    try:
        return _decode(token, secret_for, now, leeway)
    except _Malformed as exc:
        return Refused(str(exc))


def _decode(
    token: str | bytes, secret_for: SecretLookup, now: float, leeway: float
) -> dict[str, Any] | Refused:
    text = _ascii(token)
    segments = text.split(".")
    if len(segments) != 3:
        raise _Malformed("not a compact JWS (three dot-separated parts)")
    header = _json_object(_unb64(segments[0]), "header")
    if header.get("alg") != "HS256":
        raise _Malformed("algorithm is not HS256")
    claims = _json_object(_unb64(segments[1]), "payload")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _Malformed("no issuer")
    secret = secret_for(issuer)
    if not secret:  # an empty secret would make HMAC a checksum anyone can compute
        return Refused("unknown issuer (API key)")
    signing_input = (segments[0] + "." + segments[1]).encode("ascii")
    # Compare bytes, not text: compare_digest on str would need ASCII-only anyway.
    if not hmac.compare_digest(_sign(signing_input, secret), _unb64(segments[2])):
        return Refused("bad signature")
    return _check_times(claims, now, leeway)


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> dict[str, Any] | Refused:
    expires = _number(claims.get("exp"))
    if expires is None:
        raise _Malformed("no numeric exp")
    if now > expires + leeway:
        return Refused("expired")
    if "nbf" in claims:
        not_before = _number(claims["nbf"])
        if not_before is None:
            raise _Malformed("nbf is not a number")
        if now < not_before - leeway:
            return Refused("not yet valid")
    return claims


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _sign(signing_input: bytes, secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, signing_input, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str) -> bytes:
    """Strict base64url: alphabet only, no padding, and the one canonical spelling."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise _Malformed("not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _Malformed("not base64url") from exc
    # Unused trailing bits would let one signature have several spellings.
    if _b64(data) != segment:
        raise _Malformed("non-canonical base64url")
    return data


def _ascii(token: str | bytes) -> str:
    if len(token) > MAX_TOKEN_LENGTH:
        raise _Malformed("token too long")
    try:
        text = token.decode("ascii") if isinstance(token, bytes) else token
        text.encode("ascii")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise _Malformed("token is not ASCII") from exc
    return text


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _Malformed(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise _Malformed(f"{what} is not a JSON object")
    return value
