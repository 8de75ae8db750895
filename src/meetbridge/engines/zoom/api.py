"""A small client for Zoom's OAuth endpoints and REST API v2.

ZoomError
 ├── ZoomUnavailableError   network trouble or 5xx
 ├── ZoomRateLimitedError   429, with Retry-After
 ├── ZoomAuthError          401: the access token is not (or no longer) accepted
 └── ZoomApiError           any other refusal, with Zoom's code and message (404 included)
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
import orjson

from meetbridge.domain.oauth import OAuthTokens as ZoomTokens

DEFAULT_ZOOM_URL = "https://zoom.us"
DEFAULT_API_URL = "https://api.zoom.us/v2"


class ZoomError(Exception):
    pass


class ZoomUnavailableError(ZoomError):
    pass


class ZoomRateLimitedError(ZoomError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Zoom asks to wait {retry_after:g} s")
        self.retry_after = retry_after


class ZoomAuthError(ZoomError):
    pass


class ZoomApiError(ZoomError):
    def __init__(self, status: int, code: Any, message: str) -> None:
        super().__init__(f"Zoom {status} ({code}): {message}")
        self.status = status
        self.code = code


class ZoomApi:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        zoom_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self._http = http
        self.zoom_url = (zoom_url or DEFAULT_ZOOM_URL).rstrip("/")
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self.zoom_url}/oauth/authorize?{query}"

    async def exchange_code(self, code: str, redirect_uri: str, now: float) -> ZoomTokens:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, now
        )

    async def refresh(self, refresh_token: str, now: float) -> ZoomTokens:
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, now
        )

    async def me(self, access_token: str) -> dict[str, Any]:
        user: dict[str, Any] = await self._api("GET", "/users/me", access_token)
        return user

    async def user(self, access_token: str, email: str) -> dict[str, Any]:
        user: dict[str, Any] = await self._api(
            "GET", f"/users/{quote(email, safe='@')}", access_token
        )
        return user

    async def create_meeting(self, access_token: str, user: str, topic: str) -> dict[str, Any]:
        body = {"topic": topic, "type": 1, "agenda": "", "settings": {}}
        meeting: dict[str, Any] = await self._api(
            "POST", f"/users/{quote(user, safe='@')}/meetings", access_token, body, expect=201
        )
        return meeting

    async def meeting(self, access_token: str, meeting_id: str) -> dict[str, Any]:
        meeting: dict[str, Any] = await self._api(
            "GET", f"/meetings/{quote(meeting_id)}", access_token
        )
        return meeting

    async def _token(self, form: dict[str, str], now: float) -> ZoomTokens:
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        try:
            response = await self._http.post(
                f"{self.zoom_url}/oauth/token",
                data=form,
                headers={"Authorization": f"Basic {basic}"},
            )
        except httpx2.HTTPError as exc:
            raise ZoomUnavailableError(f"Zoom OAuth: {exc.__class__.__name__}") from exc
        data = _checked(response, expect=200)
        return ZoomTokens(
            data["access_token"],
            data.get("refresh_token", ""),
            now + float(data.get("expires_in", 3600)),
        )

    async def _api(
        self, method: str, path: str, token: str, body: Any = None, expect: int = 200
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                self.api_url + path,
                content=None if body is None else orjson.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise ZoomUnavailableError(f"Zoom API: {exc.__class__.__name__}") from exc
        return _checked(response, expect)


def _checked(response: httpx2.Response, expect: int) -> Any:
    if response.status_code == 429:
        raw = response.headers.get("Retry-After", "1")
        raise ZoomRateLimitedError(float(raw) if raw.replace(".", "", 1).isdigit() else 1.0)
    if response.status_code >= 500:
        raise ZoomUnavailableError(f"Zoom answered {response.status_code}")
    try:
        data = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        data = {}
    if response.status_code == 401:
        raise ZoomAuthError(str(data.get("message") or data.get("reason") or "unauthorized"))
    if response.status_code != expect:
        message = data.get("message") or data.get("reason") or data.get("error") or ""
        raise ZoomApiError(response.status_code, data.get("code"), str(message))
    return data
