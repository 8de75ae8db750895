"""Headless Chromium (Debian's package) driven by Playwright. Playwright never downloads a
browser here: it is pointed at the system one. Every test leaves a screenshot in
test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route as StarletteRoute

from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web.app import Components, MeetbridgeApp, create_app
from tests.support.mattermost_standin import MattermostStandIn, register_oauth_app
from tests.support.ports import free_port
from tests.support.requirements import require

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine's network is closed
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",  # grant camera/microphone without a prompt
    "--use-fake-device-for-media-stream",  # synthetic camera and microphone
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    require(executable is not None, "Chromium (Debian package chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    created = await browser.new_context(
        ignore_https_errors=True,  # the simulated Conferencing Node has a self-signed certificate
        permissions=["camera", "microphone"],
        viewport={"width": 1280, "height": 800},
    )
    yield created
    await created.close()


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    opened = await context.new_page()
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    await opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class DeferredTransport(httpx2.AsyncBaseTransport):
    """A transport chosen after the app is built (the simulated node starts later)."""

    def __init__(self) -> None:
        self.inner: httpx2.AsyncBaseTransport = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Served:
    """meetbridge serving on a loopback port, with a Mattermost REST stand-in behind it.

    ``restart()`` stops it and starts a new process-like instance on the same database, key and
    port, as an admin restarting the service would.
    """

    data_dir: Path
    mattermost: MattermostStandIn
    mattermost_public_url: str = ""  # where browsers reach the stand-in (OAuth sign-in)
    port: int = field(default_factory=free_port)
    secret_key: str = field(
        default_factory=lambda: base64.b64encode(generate_master_key()).decode()
    )
    app: MeetbridgeApp | None = None
    #: How meetbridge reaches Conferencing Nodes (tests point it at a simulated node's TLS).
    pexip_transport: DeferredTransport = field(default_factory=lambda: DeferredTransport())
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def components(self) -> Components:
        assert self.app is not None
        return self.app.components

    async def start(self) -> None:
        config = ServiceConfig(
            data_dir=self.data_dir,
            database_url=f"sqlite:///{self.data_dir / 'meetbridge.db'}",
            secret_key=self.secret_key,
            public_url=self.url,
            mattermost_url="http://mattermost.test",
            mattermost_public_url=self.mattermost_public_url,
            mattermost_token="bot-token",
        )
        self.app = create_app(
            config,
            mattermost_transport=self.mattermost.transport(),
            background=False,
            pexip_transport=self.pexip_transport,
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning"
            )
        )
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                raise RuntimeError("meetbridge did not start")
            await asyncio.sleep(0.05)
        await register_oauth_app(self.components)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def setting(self, key: str, value: object) -> None:
        await self.components.admin.change_setting(key, value, "test")
        await self.components.state.refresh()

    async def join_link(self, channel_id: str, user_id: str) -> str:
        """A personal join link, for a browser signed in to Mattermost as that user."""
        self.mattermost.signed_in = user_id
        return await self.components.join.issue(ChannelId(channel_id), UserId(user_id))


def mattermost_pages(standin: MattermostStandIn) -> Starlette:
    """The stand-in's pages a browser visits: OAuth authorize sends a signed-in user straight
    back with a code for them, as Mattermost does for a trusted app."""

    async def authorize(request: Request) -> Response:
        return RedirectResponse(standin.authorize(dict(request.query_params)), status_code=302)

    return Starlette(routes=[StarletteRoute("/oauth/authorize", authorize)])


@pytest.fixture
async def mattermost_browser_url(tmp_path: Path) -> AsyncIterator[tuple[str, MattermostStandIn]]:
    standin = MattermostStandIn()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(mattermost_pages(standin), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            raise RuntimeError("the Mattermost stand-in's pages did not start")
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", standin
    server.should_exit = True
    await task


@pytest.fixture
async def served(
    tmp_path: Path, mattermost_browser_url: tuple[str, MattermostStandIn]
) -> AsyncIterator[Served]:
    url, standin = mattermost_browser_url
    running = Served(tmp_path, standin, mattermost_public_url=url)
    await running.start()
    yield running
    await running.stop()
