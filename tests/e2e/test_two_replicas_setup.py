"""Two replicas registering meetbridge in the real Mattermost at the same moment, on one
PostgreSQL: each runs its own start-up set-up (its own Mattermost client and database
connections, as two processes would), from a Mattermost with no /meet and no OAuth app.

Without turns, both find nothing and both register: two /meet commands in a team (or one refused
as a duplicate, leaving that replica without the token), and two OAuth apps whose secrets
overwrite each other in the shared database.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from meetbridge.chat.mattermost.client import MattermostClient, build_http_client
from meetbridge.chat.mattermost.setup import OAUTH_APP_NAME, MattermostSetup, OAuthApp
from meetbridge.clock import SystemClock
from meetbridge.crypto import SecretBox
from meetbridge.store import chat_repo, migrate
from meetbridge.store.database import Database, open_database
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.mattermost, pytest.mark.postgres]

PUBLIC_URL = "https://meetbridge-replicas.example.com"
TRIGGER = "meet"
KEY = bytes(range(32))  # one key for both replicas, as with MEETBRIDGE_SECRET_KEY


@dataclass
class Replica:
    setup: MattermostSetup
    client: MattermostClient
    database: Database
    tokens: dict[str, str] = field(default_factory=dict)  # what on_command_token heard


def new_replica(world: MattermostWorld, database_url: str) -> Replica:
    """What one meetbridge process sets itself up with: its own client and connection pool."""
    client = MattermostClient(build_http_client(world.url, world.bot.token))
    database = open_database(database_url)
    tokens: dict[str, str] = {}
    setup = MattermostSetup(
        client,
        database,
        SecretBox(KEY),
        SystemClock(),
        PUBLIC_URL,
        TRIGGER,
        on_command_token=tokens.__setitem__,
    )
    return Replica(setup, client, database, tokens)


async def bot_commands(world: MattermostWorld, team_id: str) -> list[dict[str, Any]]:
    async with world.client(world.bot) as api:
        listing = await api.get("/commands", params={"team_id": team_id, "custom_only": "true"})
    listing.raise_for_status()
    return [
        c for c in listing.json() if c["trigger"] == TRIGGER and c["creator_id"] == world.bot.id
    ]


async def bot_oauth_apps(world: MattermostWorld) -> list[dict[str, Any]]:
    async with world.client(world.bot) as api:
        listing = await api.get("/oauth/apps", params={"per_page": 200})
    listing.raise_for_status()
    return [
        a for a in listing.json() if a["name"] == OAUTH_APP_NAME and a["creator_id"] == world.bot.id
    ]


async def clear_registrations(world: MattermostWorld, team_ids: list[str]) -> None:
    """No /meet and no OAuth app of the bot's: what a first start of meetbridge finds."""
    async with world.client(world.bot) as api:
        for team_id in team_ids:
            for command in await bot_commands(world, team_id):
                (await api.delete(f"/commands/{command['id']}")).raise_for_status()
        for app in await bot_oauth_apps(world):
            (await api.delete(f"/oauth/apps/{app['id']}")).raise_for_status()


@pytest.fixture
def second_team(mattermost: MattermostWorld) -> Iterator[str]:
    """A second team with the bot in it (the bot leaves, and the team is archived, afterwards,
    so that later tests see the usual single team)."""

    def call(method: str, path: str, body: Any = None) -> Any:
        with_admin = {"Authorization": f"Bearer {mattermost.admin.token}"}
        response = httpx2.request(
            method, f"{mattermost.url}/api/v4{path}", json=body, headers=with_admin, timeout=30
        )
        response.raise_for_status()
        return response.json() if response.content else None

    name = f"race-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    team = call("POST", "/teams", {"name": name, "display_name": "Race", "type": "O"})
    call(
        "POST",
        f"/teams/{team['id']}/members",
        {"team_id": team["id"], "user_id": mattermost.bot.id},
    )
    yield team["id"]
    call("DELETE", f"/teams/{team['id']}/members/{mattermost.bot.id}")
    call("DELETE", f"/teams/{team['id']}")


@pytest.fixture
async def replicas(
    mattermost: MattermostWorld, postgres_server: PostgresServer, second_team: str
) -> AsyncIterator[tuple[Replica, Replica]]:
    database_url = postgres_server.create_database(f"setup_race_{time.monotonic_ns()}")
    first, second = new_replica(mattermost, database_url), new_replica(mattermost, database_url)
    await migrate.upgrade(first.database)
    await clear_registrations(mattermost, [mattermost.team_id, second_team])
    try:
        yield first, second
    finally:
        for replica in (first, second):
            await replica.client.close()
            await replica.database.close()


async def stored_command_tokens(replica: Replica) -> dict[str, str]:
    async with replica.database.read() as conn:
        return await chat_repo.command_tokens(conn, SecretBox(KEY))


async def test_two_replicas_starting_together_register_one_command_per_team_and_one_oauth_app(
    replicas: tuple[Replica, Replica], mattermost: MattermostWorld, second_team: str
) -> None:
    first, second = replicas
    await asyncio.gather(first.setup.run_once(), second.setup.run_once())

    registered: dict[str, str] = {}
    for team_id in (mattermost.team_id, second_team):
        commands = await bot_commands(mattermost, team_id)
        assert len(commands) == 1, f"team {team_id}: {len(commands)} /meet commands"
        assert commands[0]["url"] == f"{PUBLIC_URL}/api/mattermost/command"
        registered[team_id] = commands[0]["token"]
    assert first.tokens == registered, "the first replica keeps another token than Mattermost's"
    assert second.tokens == registered, "the second replica keeps another token than Mattermost's"
    assert await stored_command_tokens(first) == registered

    apps = await bot_oauth_apps(mattermost)
    assert len(apps) == 1, f"{len(apps)} OAuth apps registered"
    async with mattermost.client(mattermost.bot) as api:  # its creator sees the secret
        app = (await api.get(f"/oauth/apps/{apps[0]['id']}")).json()
    live = OAuthApp(app["id"], app["client_secret"])
    assert await first.setup.oauth_app() == live
    assert await second.setup.oauth_app() == live


async def test_a_second_meet_left_by_an_earlier_race_is_removed_at_start(
    replicas: tuple[Replica, Replica], mattermost: MattermostWorld
) -> None:
    """Mattermost refuses a second /meet only when it is created after the first is stored;
    renaming another of the bot's commands to /meet makes the same state two racing creations
    leave behind."""
    first, _ = replicas
    command = {
        "team_id": mattermost.team_id,
        "url": f"{PUBLIC_URL}/api/mattermost/command",
        "method": "P",
    }
    async with mattermost.client(mattermost.bot) as api:
        for trigger in (TRIGGER, "meet-copy"):
            created = await api.post("/commands", json={**command, "trigger": trigger})
            assert created.status_code == 201, created.text
        copy = created.json()
        renamed = await api.put(f"/commands/{copy['id']}", json={**copy, "trigger": TRIGGER})
        assert renamed.status_code == 200, renamed.text
    assert len(await bot_commands(mattermost, mattermost.team_id)) == 2

    await first.setup.run_once()

    commands = await bot_commands(mattermost, mattermost.team_id)
    assert len(commands) == 1, "the second /meet is still registered"
    assert first.tokens[mattermost.team_id] == commands[0]["token"]
    stored = await stored_command_tokens(first)
    assert stored[mattermost.team_id] == commands[0]["token"]
