"""OAuth tokens as meetbridge keeps them for a connected account."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    access_token: str
    refresh_token: str
    expires_at: float

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> OAuthTokens:
        data = orjson.loads(text)
        return cls(data["access_token"], data["refresh_token"], float(data["expires_at"]))

    def __repr__(self) -> str:  # never in logs
        return f"OAuthTokens(expires_at={self.expires_at})"
