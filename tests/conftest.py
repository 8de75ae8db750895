"""Fixtures shared by the whole suite: databases (SQLite and a real PostgreSQL), the app."""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.web.app import MeetbridgeApp, create_app
from tests.support.infinity import basic_auth
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.requirements import require

if TYPE_CHECKING:
    from tests.support.livekit import LiveKitServer

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (MEETBRIDGE_TEST_POSTGRES_URL to use your own)."""
    bin_dir = find_bin_dir()
    require(bin_dir is not None, "PostgreSQL (initdb, pg_ctl)")
    assert bin_dir is not None
    server = PostgresServer(bin_dir)
    server.start()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on both supported databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meetbridge.db'}"
    external = os.environ.get("MEETBRIDGE_TEST_POSTGRES_URL")
    if external:
        return external
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"mb_test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> ServiceConfig:
    return ServiceConfig(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=base64.b64encode(generate_master_key()).decode(),
        public_url="https://meetbridge.example.com",
        mattermost_url="http://mattermost.test",
        mattermost_token="bot-token",
        mattermost_lookup_timeout=0.5,
    )


@pytest.fixture
def mattermost() -> MattermostStandIn:
    return MattermostStandIn()


@dataclass
class RunningApp:
    app: MeetbridgeApp
    http: httpx2.AsyncClient
    auth: dict[str, str]

    @property
    def components(self):  # type: ignore[no-untyped-def]
        return self.app.components

    async def admin_cookie(self, mattermost: MattermostStandIn) -> dict[str, str]:
        """A Cookie header of an admin signed in to the console (the status page's details and
        the console are for them only)."""
        admin = mattermost.add_user("root", roles="system_user system_admin")
        console = self.components.console
        signed_in = await console.sign_in(console.login_link_token(admin), admin)
        return {"Cookie": f"meetbridge_admin={signed_in.cookie}"}


@asynccontextmanager
async def running(
    app: MeetbridgeApp, default_engine: str | None = "pexip"
) -> AsyncIterator[RunningApp]:
    """Run the app's lifespan and give an HTTP client talking to it in-process.

    Most tests are about a Pexip install (an upgraded one keeps ``default_engine`` pexip);
    ``default_engine=None`` leaves a new install's default (livekit)."""
    async with app.starlette.router.lifespan_context(app.starlette):
        if default_engine is not None:
            await app.components.admin.change_setting("default_engine", default_engine, "test")
            await app.components.state.refresh()
        creds = app.components.state.credentials
        assert creds is not None
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://meetbridge") as http:
            yield RunningApp(app, http, basic_auth(creds.username, creds.password))


@asynccontextmanager
async def running_on_livekit(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit: LiveKitServer
) -> AsyncIterator[RunningApp]:
    """meetbridge without background workers, on a new install's default engine (LiveKit),
    pointed at the ``livekit`` server with its key and secret as an admin would set them."""
    app = create_app(
        config, mattermost_transport=mattermost.transport(), auto_migrate=True, background=False
    )
    async with running(app, default_engine=None) as running_app:
        admin = running_app.components.admin
        await admin.change_settings(
            {"livekit_url": livekit.ws_url, "livekit_api_key": livekit.api_key.key}, "test"
        )
        await admin.set_secret("livekit_api_secret", livekit.api_key.secret, "test")
        await running_app.components.state.refresh()
        yield running_app


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> AsyncIterator[RunningApp]:
    app = create_app(config, mattermost_transport=mattermost.transport(), auto_migrate=True)
    async with running(app) as service:
        yield service
