"""Stand-in for the two Mattermost REST calls the policy server makes (GET channel, GET user),
and for Mattermost as the OAuth provider that confirms who is at a browser.

Used where the real Mattermost test server is not needed (see tests/e2e for that one). It answers
like Mattermost: JSON objects with Mattermost's field names, 404 with Mattermost's error body.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx2
import orjson

from meetbridge.chat.mattermost.setup import OAUTH_APP_RECORD
from meetbridge.store import chat_repo

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


@dataclass
class MattermostStandIn:
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay: float = 0.0
    down: bool = False
    requests: list[str] = field(default_factory=list)
    # Mattermost as an OAuth 2.0 provider: who is signed in at the browser, the codes it gave
    # out (code -> user) and the access tokens they were exchanged for (token -> user).
    signed_in: str = ""
    oauth_codes: dict[str, str] = field(default_factory=dict)
    oauth_tokens: dict[str, str] = field(default_factory=dict)

    def add_channel(
        self,
        display_name: str = "Town Square",
        kind: str = "O",
        archived: bool = False,
        team_id: str | None = None,
    ) -> str:
        channel_id = new_id()
        self.channels[channel_id] = {
            "id": channel_id,
            "type": kind,
            "name": display_name.lower().replace(" ", "-") if kind in "OP" else f"{new_id()}__x",
            "display_name": display_name if kind in "OPG" else "",
            "team_id": (team_id or new_id()) if kind in "OP" else "",
            "delete_at": 1_700_000_000_000 if archived else 0,
        }
        return channel_id

    def add_team(self, display_name: str) -> str:
        team_id = new_id()
        self.teams[team_id] = {
            "id": team_id,
            "name": display_name.lower(),
            "display_name": display_name,
        }
        return team_id

    def add_user(
        self,
        username: str,
        nickname: str = "",
        first: str = "",
        last: str = "",
        roles: str = "system_user",
    ) -> str:
        user_id = new_id()
        self.users[user_id] = {
            "id": user_id,
            "username": username,
            "nickname": nickname,
            "first_name": first,
            "last_name": last,
            "roles": roles,
            "is_bot": False,
            "email": f"{username}@example.com",
        }
        return user_id

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    def authorize(self, query: dict[str, str]) -> str:
        """GET /oauth/authorize of a trusted app by the signed-in browser: where Mattermost
        sends the browser (the callback with a fresh code), silently, as for a trusted app."""
        assert self.signed_in, "nobody is signed in to the Mattermost stand-in"
        code = new_id()
        self.oauth_codes[code] = self.signed_in
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _oauth(self, request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path == "/oauth/access_token" and request.method == "POST":
            form = parse_qs(request.content.decode())
            user = self.oauth_codes.pop((form.get("code") or [""])[0], "")
            if not user:
                return _error(400, "api.oauth.get_access_token.expired_code.app_error", "bad code")
            token = new_id()
            self.oauth_tokens[token] = user
            return httpx2.Response(200, content=orjson.dumps({"access_token": token}))
        if request.url.path == "/api/v4/users/me":
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            user = self.oauth_tokens.get(bearer, "")
            if user:
                return httpx2.Response(200, content=orjson.dumps(self.users[user]))
        return None

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return httpx2.Response(503, content=b"upstream down")
        oauth = self._oauth(request)
        if oauth is not None:
            return oauth
        if request.headers.get("authorization", "") == "":
            return _error(
                401, "api.context.session_expired.app_error", "Invalid or expired session"
            )
        parts = request.url.path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["api", "v4"] and parts[2] in ("teams", "channels"):
            return self._listing(request, parts[2])
        if len(parts) == 6 and parts[:3] == ["api", "v4", "channels"] and parts[4] == "members":
            channel = self.channels.get(parts[3])
            members = None if channel is None else channel.get("members")
            if channel is not None and (members is None or parts[5] in members):
                admin = parts[5] in channel.get("admins", ())
                roles = "channel_user channel_admin" if admin else "channel_user"
                member = {"channel_id": parts[3], "user_id": parts[5], "roles": roles}
                return httpx2.Response(200, content=orjson.dumps(member))
            return _error(
                404, "app.channel.get_member.missing.app_error", "No channel member found"
            )
        if len(parts) == 4 and parts[:2] == ["api", "v4"]:
            table = {"channels": self.channels, "users": self.users}.get(parts[2])
            if table is not None:
                found = table.get(parts[3])
                if found is not None:
                    return httpx2.Response(200, content=orjson.dumps(found))
                return _error(404, "app.channel.get.existing.app_error", "Unable to find")
        return _error(404, "api.context.404.app_error", "Sorry, we could not find the page.")

    def _listing(self, request: httpx2.Request, what: str) -> httpx2.Response:
        """GET /teams and GET /channels (all teams): Mattermost's page/per_page paging."""
        page = int(request.url.params.get("page", "0"))
        per_page = min(200, int(request.url.params.get("per_page", "60")))
        items = list((self.teams if what == "teams" else self.channels).values())
        if what == "channels":
            items = [c for c in items if c["type"] in "OP"]
        return httpx2.Response(
            200, content=orjson.dumps(items[page * per_page : (page + 1) * per_page])
        )


def _error(status: int, error_id: str, message: str) -> httpx2.Response:
    body = {"id": error_id, "message": message, "status_code": status, "request_id": new_id()}
    return httpx2.Response(status, content=orjson.dumps(body))


async def register_oauth_app(components: Any) -> None:
    """What meetbridge's Mattermost setup stores once Mattermost has accepted its trusted OAuth
    app (the stand-in has no app registry: it accepts any client)."""
    value = {
        "client_id": new_id(),
        "client_secret": new_id(),
        "callback": components.chat.setup.oauth_callback_url,
    }
    async with components.core.database.transaction() as conn:
        await chat_repo.put_secret(
            conn,
            components.core.box,
            OAUTH_APP_RECORD,
            orjson.dumps(value).decode(),
            components.core.clock.now(),
        )
