"""The real Mattermost server, started once per test session (see mattermost/server.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.live import LiveMeetbridge, start_live, stop_live
from tests.e2e.mattermost.bootstrap import MattermostWorld, bootstrap
from tests.e2e.mattermost.server import MattermostServer, build_server, go_available
from tests.support.postgres import PostgresServer
from tests.support.requirements import require


@pytest.fixture(scope="session")
def mattermost_server(postgres_server: PostgresServer) -> Iterator[MattermostServer]:
    require(go_available(), "Go (to build the Mattermost test server)")
    runtime = build_server()
    database = postgres_server.create_database(f"mattermost_{os.getpid()}")
    server = MattermostServer(runtime, database + "?sslmode=disable&connect_timeout=10")
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def mattermost(mattermost_server: MattermostServer) -> MattermostWorld:
    """Users, team, channels and the bot, created through the API once per session."""
    return bootstrap(mattermost_server.url)


@pytest.fixture
async def live(mattermost: MattermostWorld, tmp_path: Path) -> AsyncIterator[LiveMeetbridge]:
    """meetbridge serving on loopback, wired to the real Mattermost server."""
    running, server, task = await start_live(mattermost, tmp_path)
    yield running
    await stop_live(running, server, task)
