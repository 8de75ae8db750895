"""Signing people in with their Mattermost account (OAuth 2.0 authorization-code flow).

Used by the channel's stable meeting link: whoever opens it proves who they are to Mattermost,
and meetbridge then checks they belong to the channel. The OAuth app is registered by
setup.py as a trusted app, so users are not asked to approve it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx2

from meetbridge.chat.mattermost.setup import MattermostSetup
from meetbridge.domain.ids import UserId, is_mattermost_id


class OAuthError(Exception):
    """Signing in did not work; the message is safe to show."""


class OAuthCodeRefusedError(OAuthError):
    """Mattermost refused the code the browser brought (forged, reused or expired): a 4xx."""


class MattermostOAuth:
    def __init__(self, http: httpx2.AsyncClient, browser_url: str, setup: MattermostSetup) -> None:
        self._http = http  # base_url = Mattermost's server-side URL
        self._browser_url = browser_url.rstrip("/")
        self._setup = setup

    async def authorize_url(self, state: str) -> str | None:
        app = await self._setup.oauth_app()
        if app is None:
            return None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": self._setup.oauth_callback_url,
                "state": state,
            }
        )
        return f"{self._browser_url}/oauth/authorize?{query}"

    async def user_for_code(self, code: str) -> UserId:
        app = await self._setup.oauth_app()
        if app is None:
            raise OAuthError("Signing in with Mattermost is not set up.")
        try:
            token_response = await self._http.post(
                "/oauth/access_token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                    "redirect_uri": self._setup.oauth_callback_url,
                },
            )
            if 400 <= token_response.status_code < 500:
                raise OAuthCodeRefusedError(
                    "Mattermost did not accept this sign-in; open the meeting link again."
                )
            if token_response.status_code != 200:
                raise OAuthError("Mattermost did not accept the sign-in; please try again.")
            access_token = token_response.json().get("access_token", "")
            me = await self._http.get(
                "/api/v4/users/me", headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx2.HTTPError as exc:
            raise OAuthError("Mattermost cannot be reached right now; please try again.") from exc
        user_id = me.json().get("id", "") if me.status_code == 200 else ""
        if not is_mattermost_id(user_id):
            raise OAuthError("Mattermost did not say who you are; please try again.")
        return UserId(user_id)
