"""A thin, typed client for the parts of Mattermost's REST API v4 that meetbridge uses.

The caller owns the ``httpx2.AsyncClient`` (base URL, bearer token, timeouts, transport), which
is also the seam tests use.
"""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from meetbridge.chat.mattermost.errors import (
    MattermostApiError,
    MattermostError,
    MattermostUnavailableError,
)
from meetbridge.domain.ids import is_mattermost_id
from meetbridge.ports import FileToPost

API = "/api/v4"


def build_http_client(
    base_url: str,
    token: str,
    timeout: float = 10.0,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "User-Agent": "meetbridge"},
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 3.0)),
        transport=transport,
    )


class MattermostClient:
    def __init__(self, http: httpx2.AsyncClient) -> None:
        self._http = http

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        time_limit: float | None = None,
    ) -> Any:
        """Call ``/api/v4{path}`` and return the decoded JSON body (None when empty)."""
        content = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self._http.request(
                method,
                API + path,
                content=content,
                params=params,
                headers=headers,
                timeout=httpx2.USE_CLIENT_DEFAULT if time_limit is None else time_limit,
            )
        except httpx2.HTTPError as exc:
            raise MattermostUnavailableError(f"{method} {path}: {exc.__class__.__name__}") from exc
        return _decode(method, path, response)

    async def ping(self, time_limit: float = 3.0) -> bool:
        """Whether Mattermost itself answers its health check (not a proxy's page)."""
        try:
            answer = await self.request("GET", "/system/ping", time_limit=time_limit)
        except MattermostError:
            return False
        return isinstance(answer, dict) and str(answer.get("status", "")).upper() == "OK"

    async def get_channel(self, channel_id: str) -> dict[str, Any] | None:
        # Ids reach here from requests (a click, a dialog): one that is not an id must not
        # become another path of the API, called with the bot's token ("../users").
        if not is_mattermost_id(channel_id):
            return None
        return await self._get_or_none(f"/channels/{channel_id}")

    async def get_user(self, user_id: str) -> dict[str, Any] | None:
        if not is_mattermost_id(user_id):
            return None
        return await self._get_or_none(f"/users/{user_id}")

    async def get_client_config(self) -> dict[str, Any]:
        """The configuration any signed-in user may read (``DefaultClientLocale``...)."""
        config: dict[str, Any] = await self.request(
            "GET", "/config/client", params={"format": "old"}
        )
        return config

    async def get_me(self) -> dict[str, Any]:
        me: dict[str, Any] = await self.request("GET", "/users/me")
        return me

    async def get_my_teams(self) -> list[dict[str, Any]]:
        teams: list[dict[str, Any]] = await self.request("GET", "/users/me/teams")
        return teams

    async def get_channel_member(self, channel_id: str, user_id: str) -> dict[str, Any] | None:
        if not (is_mattermost_id(channel_id) and is_mattermost_id(user_id)):
            return None
        return await self._get_or_none(f"/channels/{channel_id}/members/{user_id}")

    async def get_channel_members(self, channel_id: str) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = []
        page = 0
        while True:
            batch: list[dict[str, Any]] = await self.request(
                "GET", f"/channels/{channel_id}/members", params={"page": page, "per_page": 200}
            )
            members += batch
            if len(batch) < 200:
                return members
            page += 1

    # --- slash commands ---

    async def list_commands(self, team_id: str) -> list[dict[str, Any]]:
        commands: list[dict[str, Any]] = await self.request(
            "GET", "/commands", params={"team_id": team_id, "custom_only": "true"}
        )
        return commands

    async def create_command(self, command: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.request("POST", "/commands", json=command)
        return created

    async def update_command(self, command: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = await self.request(
            "PUT", f"/commands/{command['id']}", json=command
        )
        return updated

    async def delete_command(self, command_id: str) -> None:
        await self.request("DELETE", f"/commands/{command_id}")

    # --- dialogs ---

    async def open_dialog(self, trigger_id: str, url: str, dialog: dict[str, Any]) -> None:
        """Ask Mattermost to show ``dialog`` to the user ``trigger_id`` was made for.

        Mattermost checks the trigger's signature and age (MattermostApiError when it refuses
        it); the dialog goes only to that user's clients.
        """
        await self.request(
            "POST",
            "/actions/dialogs/open",
            json={"trigger_id": trigger_id, "url": url, "dialog": dialog},
            time_limit=10.0,
        )

    async def post_ephemeral(self, user_id: str, channel_id: str, message: str) -> None:
        """A message only ``user_id`` sees, in ``channel_id`` (not stored by Mattermost)."""
        await self.request(
            "POST",
            "/posts/ephemeral",
            json={"user_id": user_id, "post": {"channel_id": channel_id, "message": message}},
            time_limit=10.0,
        )

    # --- posts ---

    async def create_post(self, post: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.request("POST", "/posts", json=post)
        return created

    async def upload_file(self, channel_id: str, file: FileToPost) -> str:
        """POST /files (multipart): the new file's id, for a post's ``file_ids``."""
        path = "/files"
        try:
            response = await self._http.post(
                API + path,
                data={"channel_id": channel_id},
                files={"files": (file.name, file.content, file.content_type)},
                timeout=httpx2.Timeout(120.0, connect=3.0),  # large files on slow links
            )
        except httpx2.HTTPError as exc:
            raise MattermostUnavailableError(f"POST {path}: {exc.__class__.__name__}") from exc
        body = _decode("POST", path, response)
        infos = body.get("file_infos") if isinstance(body, dict) else None
        if not infos or not isinstance(infos[0], dict) or "id" not in infos[0]:
            raise MattermostUnavailableError(f"POST {path}: no file id in the answer")
        return str(infos[0]["id"])

    async def patch_post(self, post_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = await self.request("PUT", f"/posts/{post_id}/patch", json=patch)
        return patched

    async def recent_posts(self, channel_id: str, per_page: int = 60) -> list[dict[str, Any]]:
        listing: dict[str, Any] = await self.request(
            "GET", f"/channels/{channel_id}/posts", params={"per_page": per_page}
        )
        return [listing["posts"][post_id] for post_id in listing.get("order", [])]

    async def create_direct_channel(self, user_a: str, user_b: str) -> dict[str, Any]:
        channel: dict[str, Any] = await self.request(
            "POST", "/channels/direct", json=[user_a, user_b]
        )
        return channel

    # --- custom status ---

    async def set_custom_status(self, user_id: str, status: dict[str, Any]) -> None:
        await self.request("PUT", f"/users/{user_id}/status/custom", json=status)

    async def clear_custom_status(self, user_id: str) -> None:
        await self.request("DELETE", f"/users/{user_id}/status/custom")

    async def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.request("GET", path)
        except MattermostApiError as exc:
            # 403: the bot may not see it, which for meetbridge is the same as not existing.
            # Only Mattermost's own answer says so; a proxy's 404 page says nothing.
            if exc.status_code in (403, 404) and exc.from_server:
                return None
            raise
        return found


def _decode(method: str, path: str, response: httpx2.Response) -> Any:
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After")
        raise MattermostUnavailableError(
            f"{method} {path}: HTTP {response.status_code}",
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    if 300 <= response.status_code < 400:
        # Mattermost's API does not redirect; an SSO gateway sending us to its login page does.
        raise MattermostUnavailableError(f"{method} {path}: redirected ({response.status_code})")
    body: Any = None
    decodable = True
    if response.content:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            decodable = False
    if response.status_code >= 400:
        error = body if isinstance(body, dict) else {}
        raise MattermostApiError(
            response.status_code,
            str(error.get("id", "")),
            str(error.get("message", response.reason_phrase)),
            from_server=bool(error.get("id")),
        )
    if not decodable:
        # A maintenance or sign-in page answered 200 in Mattermost's place.
        raise MattermostUnavailableError(f"{method} {path}: the answer is not JSON")
    return body
