"""Signed, expiring tokens meetbridge hands out in links (join links, admin sign-in).

Format: ``base64url(json payload) . base64url(HMAC-SHA256)``. The payload names its purpose, so a
token made for one purpose is refused for another; ``exp`` is a Unix time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson


class TokenError(ValueError):
    """The token is malformed, forged, expired or for another purpose; the message says which."""


@dataclass(frozen=True, slots=True)
class TokenCodec:
    key: bytes

    def encode(self, purpose: str, claims: dict[str, Any], now: float, lifetime: float) -> str:
        payload = {**claims, "p": purpose, "exp": int(now + lifetime)}
        body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
        return f"{body}.{self._sign(body)}"

    def decode(self, token: str, purpose: str, now: float) -> dict[str, Any]:
        body, _, signature = token.partition(".")
        # Non-ASCII can never be a token (and would make compare_digest raise).
        if not body or not signature or len(token) > 2048 or not token.isascii():
            raise TokenError("malformed link")
        if not hmac.compare_digest(self._sign(body).encode(), signature.encode()):
            raise TokenError("this link was not issued by meetbridge")
        try:
            payload = orjson.loads(_unb64(body))
        except (orjson.JSONDecodeError, binascii.Error, ValueError) as exc:
            raise TokenError("malformed link") from exc
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            raise TokenError("this link is not valid here")
        if not isinstance(payload.get("exp"), int) or payload["exp"] < now:
            raise TokenError("this link has expired")
        return payload

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
