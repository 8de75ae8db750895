"""A Zoom connect link stores a grant only for the Mattermost user it was made for, and an
account-level grant only for a system admin (issue 9, item 5); a Zoom meeting link from /meet
opens only for the user it was made for (item 2).

A "browser" here is an HTTP client whose requests reach meetbridge (in process), the Zoom
simulator, and the Mattermost stand-in's OAuth authorize page, which - as Mattermost does for a
trusted app - sends a signed-in user straight back with a code for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx2
import pytest
from sqlalchemy import func, select

from meetbridge.chat.mattermost.actions import VerifiedAction
from meetbridge.chat.mattermost.interactions import Invocation
from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom.service import PmiPreference
from meetbridge.store.tables import zoom_connections, zoom_meetings
from meetbridge.store.zoom_repo import ACCOUNT
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.support.mattermost_standin import MattermostStandIn, register_oauth_app
from tests.support.zoom import ZoomSimulator

ZOOM_PAGES = ("https://zoom.test", "https://us02web.zoom.test")


class BrowserTransport(httpx2.AsyncBaseTransport):
    """Where a browser's requests go: Mattermost's authorize page, Zoom, or meetbridge."""

    def __init__(self, meetbridge: RunningApp, zoom: ZoomSimulator, standin: MattermostStandIn):
        self._meetbridge = httpx2.ASGITransport(app=meetbridge.app)
        self._zoom = httpx2.ASGITransport(app=zoom.app)
        self._standin = standin

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "mattermost.test" and request.url.path == "/oauth/authorize":
            query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
            return httpx2.Response(302, headers={"location": self._standin.authorize(query)})
        if request.url.host.endswith("zoom.test"):  # the API and the meeting host
            return await self._zoom.handle_async_request(request)
        return await self._meetbridge.handle_async_request(request)


@pytest.fixture
def zoom_sim() -> ZoomSimulator:
    simulator = ZoomSimulator(join_base="https://us02web.zoom.test")  # on the configured Zoom
    simulator.add_user("alice@example.com")
    return simulator


@pytest.fixture
async def zoomed(
    config: ServiceConfig, mattermost: MattermostStandIn, zoom_sim: ZoomSimulator
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
        mattermost_transport=mattermost.transport(),
        zoom_transport=httpx2.ASGITransport(app=zoom_sim.app),
        auto_migrate=True,
        background=False,
    )
    async with running(app) as service:
        admin = service.components.admin
        for key, value in {
            "zoom_url": "https://zoom.test",
            "zoom_api_url": "https://zoom.test/v2",
            "zoom_client_id": "zoom-client",
        }.items():
            await admin.change_setting(key, value, "test")
        await admin.set_secret("zoom_client_secret", "zoom-secret", "test")
        await service.components.state.refresh()
        await register_oauth_app(service.components)
        yield service


@pytest.fixture
async def browser(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, mattermost: MattermostStandIn
) -> AsyncIterator[httpx2.AsyncClient]:
    transport = BrowserTransport(zoomed, zoom_sim, mattermost)
    async with httpx2.AsyncClient(transport=transport, follow_redirects=True) as client:
        yield client


async def until_zoom(browser: httpx2.AsyncClient, url: str) -> httpx2.Response:
    """Follow redirects up to the one that sends the browser to Zoom."""
    response = await browser.get(url, follow_redirects=False)
    while not response.headers.get("location", "").startswith(ZOOM_PAGES):
        assert response.is_redirect, response.text
        location = response.url.join(response.headers["location"])
        response = await browser.get(location, follow_redirects=False)
    return response


def connect_link(service: RunningApp, user_id: str, channel_id: str) -> str:
    """The personal link ``/meet connect`` gives ``user_id``."""
    link: str = service.components.zoom.connect_link(UserId(user_id), ChannelId(channel_id))
    return link


async def grants(service: RunningApp) -> list[str]:
    async with service.components.core.database.read() as conn:
        return list((await conn.scalars(select(zoom_connections.c.owner))).all())


async def test_a_connect_link_opened_by_another_user_stores_no_grant(
    zoomed: RunningApp,
    zoom_sim: ZoomSimulator,
    mattermost: MattermostStandIn,
    browser: httpx2.AsyncClient,
) -> None:
    mallory, alice = mattermost.add_user("mallory"), mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    # Mallory sends his own connect link to Alice, who is signed in to Mattermost and Zoom.
    mattermost.signed_in = alice
    opened = await browser.get(connect_link(zoomed, mallory, channel))
    assert opened.status_code == 403
    assert "made for another Mattermost user" in opened.text
    assert await grants(zoomed) == []
    assert "POST /oauth/token" not in zoom_sim.requests, "Alice's Zoom code was never used"


async def test_the_user_a_connect_link_names_connects_their_own_account(
    zoomed: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.signed_in = alice
    done = await browser.get(connect_link(zoomed, alice, channel))
    assert done.status_code == 200, done.text
    assert "connected" in done.text
    assert await grants(zoomed) == [alice]


async def test_the_zoom_callback_needs_the_browser_mattermost_confirmed(
    zoomed: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.signed_in = alice
    to_zoom = await until_zoom(browser, connect_link(zoomed, alice, channel))
    # The proof of identity is gone (another browser profile, or an expired cookie).
    browser.cookies.delete("meetbridge_identity")
    back = await browser.get(to_zoom.headers["location"])  # Zoom, then back to meetbridge
    assert back.status_code == 403
    assert await grants(zoomed) == []


async def test_only_a_system_admin_stores_an_account_level_grant(
    zoomed: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    await zoomed.components.admin.change_setting("zoom_account_level", True, "test")
    await zoomed.components.state.refresh()
    member = mattermost.add_user("member")
    admin = mattermost.add_user("root", roles="system_user system_admin")
    channel = mattermost.add_channel("Ops", kind="P")
    mattermost.signed_in = member
    refused = await browser.get(connect_link(zoomed, member, channel))
    assert refused.status_code == 403 and "Only system admins" in refused.text
    assert await grants(zoomed) == []
    mattermost.signed_in = admin
    done = await browser.get(connect_link(zoomed, admin, channel))
    assert done.status_code == 200, done.text
    async with zoomed.components.core.database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(zoom_connections)) == 1
    assert await grants(zoomed) == [ACCOUNT]


async def test_a_demoted_admin_cannot_finish_an_account_level_connection(
    zoomed: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    await zoomed.components.admin.change_setting("zoom_account_level", True, "test")
    await zoomed.components.state.refresh()
    admin = mattermost.add_user("root", roles="system_user system_admin")
    channel = mattermost.add_channel("Ops", kind="P")
    mattermost.signed_in = admin
    to_zoom = await until_zoom(browser, connect_link(zoomed, admin, channel))
    mattermost.users[admin]["roles"] = "system_user"  # demoted while at Zoom's consent page
    back = await browser.get(to_zoom.headers["location"])  # Zoom, then back to meetbridge
    assert back.status_code == 403 and "Only system admins" in back.text
    assert await grants(zoomed) == []


async def test_a_forged_zoom_start_gives_a_meeting_link_only_its_user_can_open(
    zoomed: RunningApp,
    zoom_sim: ZoomSimulator,
    mattermost: MattermostStandIn,
    browser: httpx2.AsyncClient,
) -> None:
    alice, mallory = mattermost.add_user("alice"), mattermost.add_user("mallory")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.signed_in = alice
    assert (await browser.get(connect_link(zoomed, alice, channel))).status_code == 200
    zoom = zoomed.components.zoom
    await zoomed.components.engines.set_engine(ChannelId(channel), "zoom", "test")
    await zoom.set_pmi_preference(UserId(alice), PmiPreference.NEW)
    # What a holder of the command token reads back for "/meet start" naming Alice:
    reply = await zoomed.components.interactions.command(
        Invocation(UserId(alice), ChannelId(channel), "team", "start Plans")
    )
    async with zoomed.components.core.database.read() as conn:
        meeting_url = (await conn.execute(select(zoom_meetings.c.join_url))).scalar_one()
    assert meeting_url not in str(reply), "the reply itself holds no Zoom meeting link"
    link = reply["goto_location"]

    mattermost.signed_in = mallory
    transport = BrowserTransport(zoomed, zoom_sim, mattermost)
    async with httpx2.AsyncClient(transport=transport) as mallorys_browser:
        forged = await mallorys_browser.get(link, follow_redirects=True)
    assert forged.status_code == 403 and meeting_url not in forged.text

    mattermost.signed_in = alice
    real = await until_zoom(browser, link)
    assert real.headers["location"] == meeting_url


async def test_a_posted_join_click_answers_with_a_personal_link_not_zooms_url(
    zoomed: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.signed_in = alice
    assert (await browser.get(connect_link(zoomed, alice, channel))).status_code == 200
    started = await zoomed.components.zoom.start(
        UserId(alice), ChannelId(channel), "Plans", use_pmi=False
    )
    assert started.meeting_row is not None
    # Anyone can POST a click naming any user; the answer goes back to that poster.
    answer = await zoomed.components.interactions.click(
        VerifiedAction("zoomjoin", channel, str(started.meeting_row), ""), UserId(bob)
    )
    assert started.url not in str(answer)
    assert answer["goto_location"].startswith("https://meetbridge.example.com/zoom/join/")
