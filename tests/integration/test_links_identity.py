"""Redeeming links needs Mattermost's word on who is at the browser (issue 9, item 2): the
OAuth round trip's own defences, failing closed without an OAuth app, and the admin console's
periodic role check. Against the Mattermost REST stand-in, which also plays the OAuth provider.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx2
import pytest
from sqlalchemy import func, select

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store.tables import admin_sessions
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.support.mattermost_standin import MattermostStandIn, register_oauth_app

PUBLIC = "https://meetbridge.example.com"
CALLBACK = "/oauth/mattermost/callback"


class ManualClock:
    def __init__(self) -> None:
        self.time = time.time()

    def now(self) -> float:
        return self.time


class BrowserTransport(httpx2.AsyncBaseTransport):
    """A browser's requests: Mattermost's authorize page (silent for a trusted app), or
    meetbridge."""

    def __init__(self, meetbridge: RunningApp, standin: MattermostStandIn) -> None:
        self._meetbridge = httpx2.ASGITransport(app=meetbridge.app)
        self._standin = standin

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "mattermost.test" and request.url.path == "/oauth/authorize":
            query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
            return httpx2.Response(302, headers={"location": self._standin.authorize(query)})
        return await self._meetbridge.handle_async_request(request)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def start(
    config: ServiceConfig, mattermost: MattermostStandIn, clock: ManualClock
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
        clock=clock,
        mattermost_transport=mattermost.transport(),
        auto_migrate=True,
        background=False,
    )
    async with running(app) as service:
        await service.components.admin.change_setting("pexip_node", "pexip.example.com", "t")
        await service.components.state.refresh()
        yield service


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, clock: ManualClock
) -> AsyncIterator[RunningApp]:
    async for running_app in start(config, mattermost, clock):
        await register_oauth_app(running_app.components)
        yield running_app


@pytest.fixture
async def browser(
    service: RunningApp, mattermost: MattermostStandIn
) -> AsyncIterator[httpx2.AsyncClient]:
    transport = BrowserTransport(service, mattermost)
    async with httpx2.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        yield client


async def follow(browser: httpx2.AsyncClient, url: str) -> httpx2.Response:
    """Open a link, going through Mattermost's sign-in where meetbridge asks for it; the first
    answer after that."""
    response = await browser.get(url)
    while response.is_redirect:
        target = response.url.join(response.headers["location"])
        from_sign_in = response.url.path == CALLBACK
        if not (from_sign_in or target.path in ("/oauth/authorize", CALLBACK)):
            break
        response = await browser.get(target)
    return response


async def sessions(service: RunningApp) -> int:
    async with service.components.core.database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(admin_sessions)) or 0)


async def test_without_mattermost_oauth_links_are_refused_not_opened(
    config: ServiceConfig, mattermost: MattermostStandIn, clock: ManualClock
) -> None:
    alice = mattermost.add_user("alice", roles="system_user system_admin")
    channel = mattermost.add_channel("Planning", kind="P")
    async for service in start(config, mattermost, clock):  # no OAuth app registered
        join = await service.components.join.issue(ChannelId(channel), UserId(alice))
        opened = await service.http.get(join.removeprefix(PUBLIC))
        assert opened.status_code == 503
        assert "Sign-in is not available" in opened.text and "pin" not in opened.text.lower()
        token = service.components.console.login_link_token(UserId(alice))
        console = await service.http.get(f"/admin/login?token={token}")
        assert console.status_code == 503 and await sessions(service) == 0


async def test_a_proof_for_one_user_does_not_open_another_users_link(
    service: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    join = service.components.join
    mattermost.signed_in = alice
    own = await follow(browser, await join.issue(ChannelId(channel), UserId(alice)))
    assert own.status_code == 302 and "name=alice" in own.headers["location"]
    bobs = await join.issue(ChannelId(channel), UserId(bob))
    asked = await browser.get(bobs)  # alice's identity cookie is not bob's: ask Mattermost
    assert asked.status_code == 302
    assert asked.headers["location"].startswith("http://mattermost.test/oauth/authorize?")
    refused = await follow(browser, bobs)
    assert refused.status_code == 403 and "another Mattermost user" in refused.text


async def test_the_sign_in_callback_refuses_what_did_not_start_in_this_browser(
    service: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    link = await service.components.join.issue(ChannelId(channel), UserId(alice))
    to_mattermost = await browser.get(link)
    state = parse_qs(to_mattermost.headers["location"].split("?", 1)[1])["state"][0]
    flow_cookie = next(c.name for c in browser.cookies.jar if c.name.startswith("meetbridge_oauth"))
    for params, cookie in (
        ({"state": "forged", "code": "x"}, None),
        ({"state": state, "code": "x"}, "garbage"),
        ({"state": state, "code": "x"}, ""),
        ({"state": state}, None),  # Mattermost did not grant
        ({"state": state + "x", "code": "x"}, None),
    ):
        async with httpx2.AsyncClient(
            transport=BrowserTransport(service, mattermost), base_url=PUBLIC
        ) as other:
            other.cookies = httpx2.Cookies(browser.cookies)
            if cookie is not None:
                other.cookies.set(flow_cookie, cookie)
            response = await other.get(CALLBACK, params=params)
        assert response.status_code == 400, (params, cookie, response.text)
        assert "location" not in response.headers
    assert "meetbridge_identity" not in str(browser.cookies)


async def test_the_admin_role_is_asked_again_every_few_minutes(
    service: RunningApp,
    mattermost: MattermostStandIn,
    browser: httpx2.AsyncClient,
    clock: ManualClock,
) -> None:
    admin = mattermost.add_user("root", roles="system_user system_admin")
    mattermost.signed_in = admin
    token = service.components.console.login_link_token(UserId(admin))
    signed_in = await follow(browser, f"/admin/login?token={token}")
    assert signed_in.status_code == 303
    asked = f"GET /api/v4/users/{admin}"

    def questions() -> int:
        return mattermost.requests.count(asked)

    before = questions()
    assert (await browser.get("/admin")).status_code == 200
    assert questions() == before, "within the interval the role is not asked again"
    clock.time += 5 * 60
    assert (await browser.get("/admin")).status_code == 200
    assert questions() == before + 1, "after five minutes Mattermost is asked again"
    mattermost.users[admin]["roles"] = "system_user"
    clock.time += 5 * 60
    demoted = await browser.get("/admin/settings")
    assert demoted.status_code == 403 and "Only system admins" in demoted.text
    assert await sessions(service) == 0


async def test_when_mattermost_cannot_confirm_the_role_the_console_waits(
    service: RunningApp,
    mattermost: MattermostStandIn,
    browser: httpx2.AsyncClient,
    clock: ManualClock,
) -> None:
    admin = mattermost.add_user("root", roles="system_user system_admin")
    mattermost.signed_in = admin
    token = service.components.console.login_link_token(UserId(admin))
    assert (await follow(browser, f"/admin/login?token={token}")).status_code == 303
    clock.time += 5 * 60
    mattermost.down = True
    refused = await browser.get("/admin")
    assert refused.status_code == 503 and "cannot be reached" in refused.text
    mattermost.down = False
    assert (await browser.get("/admin")).status_code == 200, "the session was kept"


async def test_two_links_opened_at_once_in_one_browser_both_open(
    service: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice = mattermost.add_user("alice")
    first, second = mattermost.add_channel("One", kind="P"), mattermost.add_channel("Two", kind="P")
    join = service.components.join
    links = [await join.issue(ChannelId(c), UserId(alice)) for c in (first, second)]
    mattermost.signed_in = alice
    to_mattermost = [await browser.get(link) for link in links]  # both before either returns
    for response in to_mattermost:
        opened = await follow(browser, response.headers["location"])
        assert opened.status_code == 302 and "name=alice" in opened.headers["location"]
