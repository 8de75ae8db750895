"""Populate a fresh Mattermost server through its REST API, as an admin would.

Creates a system admin (the first account, while sign-up is otherwise closed), a team, users
with different nicknames and first/last names (and one with none, to exercise fall-backs),
public, private and archived channels, a direct and a group message, and a bot account with a
token and the system-admin role meetbridge needs (posting and updating cards anywhere, ephemeral
messages, custom statuses of other users and slash-command registration require it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2

PASSWORD = "Meetbridge-Test-1!"


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str
    nickname: str = ""
    first_name: str = ""
    last_name: str = ""
    roles: str = "system_user"


@dataclass(frozen=True)
class MattermostWorld:
    """What the bootstrap created, for tests to use."""

    url: str
    admin: Account
    users: dict[str, Account]
    team_id: str
    team_name: str
    channels: dict[str, str]
    bot: Account
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, who: Account | str) -> httpx2.AsyncClient:
        """An async API client acting as a user (or with a raw token)."""
        token = who if isinstance(who, str) else who.token
        return httpx2.AsyncClient(
            base_url=f"{self.url}/api/v4",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )


_PEOPLE = {
    "alice": {"nickname": "Ali", "first_name": "Alice", "last_name": "Archer"},
    "bob": {"nickname": "Bobby", "first_name": "Bob", "last_name": "Baker"},
    "carol": {"nickname": "", "first_name": "Carol", "last_name": "Clark"},
    "dave": {"nickname": "", "first_name": "", "last_name": ""},
    "erin": {"nickname": "Rin", "first_name": "Erin", "last_name": ""},
}


class _Api:
    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.Client(base_url=f"{url}/api/v4", headers=headers, timeout=30.0)

    def call(
        self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)
    ) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


def login(url: str, username: str, password: str = PASSWORD) -> str:
    response = httpx2.post(
        f"{url}/api/v4/users/login", json={"login_id": username, "password": password}, timeout=30.0
    )
    response.raise_for_status()
    return response.headers["Token"]


def bootstrap(url: str) -> MattermostWorld:
    anonymous = _Api(url)
    admin_user = anonymous.call(
        "POST",
        "/users",
        {"email": "admin@example.com", "username": "sysadmin", "password": PASSWORD},
    )
    anonymous.close()
    admin_token = login(url, "sysadmin")
    api = _Api(url, admin_token)
    try:
        return _populate(url, api, admin_user, admin_token)
    finally:
        api.close()


def _populate(url: str, api: _Api, admin_user: dict[str, Any], admin_token: str) -> MattermostWorld:
    team = api.call("POST", "/teams", {"name": "acme", "display_name": "Acme", "type": "O"})
    users: dict[str, Account] = {}
    for username, names in _PEOPLE.items():
        created = api.call(
            "POST",
            "/users",
            {
                "email": f"{username}@example.com",
                "username": username,
                "password": PASSWORD,
                **names,
            },
        )
        api.call(
            "POST",
            f"/teams/{team['id']}/members",
            {"team_id": team["id"], "user_id": created["id"]},
        )
        users[username] = Account(
            id=created["id"], username=username, token=login(url, username), **names
        )
    admin = Account(admin_user["id"], "sysadmin", admin_token, roles="system_admin system_user")
    api.call("POST", f"/teams/{team['id']}/members", {"team_id": team["id"], "user_id": admin.id})

    # Stable meeting links sign people in through Mattermost's OAuth provider; registering the
    # app needs manage_oauth, which this server's system_admin role lacks by default (System
    # Console > Permissions > "Manage OAuth 2.0 applications").
    role = api.call("GET", "/roles/name/system_admin")
    if "manage_oauth" not in role["permissions"]:
        api.call(
            "PUT",
            f"/roles/{role['id']}/patch",
            {"permissions": [*role["permissions"], "manage_oauth"]},
        )

    bot_user = api.call(
        "POST",
        "/bots",
        {"username": "meetbridge", "display_name": "Meetbridge", "description": "Video meetings"},
    )
    bot_id = bot_user["user_id"]
    api.call("PUT", f"/users/{bot_id}/roles", {"roles": "system_user system_admin"})
    bot_token = api.call("POST", f"/users/{bot_id}/tokens", {"description": "meetbridge tests"})[
        "token"
    ]
    api.call("POST", f"/teams/{team['id']}/members", {"team_id": team["id"], "user_id": bot_id})
    bot = Account(bot_id, "meetbridge", bot_token, roles="system_user system_admin")

    def channel(name: str, display: str, kind: str, members: list[str]) -> str:
        created = api.call(
            "POST",
            "/channels",
            {"team_id": team["id"], "name": name, "display_name": display, "type": kind},
        )
        for member in [*members, bot_id]:
            api.call("POST", f"/channels/{created['id']}/members", {"user_id": member})
        return str(created["id"])

    everyone = [u.id for u in users.values()]
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    channels = {
        "town-square": api.call("GET", f"/teams/{team['id']}/channels/name/town-square")["id"],
        "public": channel("engineering", "Engineering", "O", everyone),
        "private": channel("leadership", "Leadership", "P", [alice.id, bob.id, carol.id]),
        "disallowed": channel("finance", "Finance", "O", everyone),
        "archived": channel("old-news", "Old News", "O", [alice.id, bob.id]),
        "dm": api.call("POST", "/channels/direct", [alice.id, bob.id])["id"],
        "gm": api.call("POST", "/channels/group", [alice.id, bob.id, carol.id])["id"],
    }
    api.call("POST", f"/channels/{channels['town-square']}/members", {"user_id": bot_id})
    api.call("DELETE", f"/channels/{channels['archived']}")
    return MattermostWorld(
        url=url,
        admin=admin,
        users=users,
        team_id=team["id"],
        team_name=team["name"],
        channels=channels,
        bot=bot,
    )
