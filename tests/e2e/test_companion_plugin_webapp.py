"""The companion plugin's webapp part in real Chromium, inside a host page that stands in for
Mattermost's web app (tests/e2e/plugin_host), with the real Mattermost (the plugin installed
through its REST API, bundle and all) and the real meetbridge behind it.

Each test leaves a screenshot of its component in test-artifacts/screenshots/."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from meetbridge.chat.mattermost.plugin_events import PLUGIN_ID
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
from tests.e2e.mattermost.bootstrap import PASSWORD, Account, MattermostWorld
from tests.e2e.plugin_host.server import serving_host
from tests.e2e.test_companion_plugin import installed_plugin, patch_plugin_settings
from tests.e2e.test_meet_flows import card_of
from tests.support.requirements import require

__all__ = ["installed_plugin"]  # a fixture shared with test_companion_plugin

pytestmark = [pytest.mark.mattermost, pytest.mark.slow]


@dataclass
class Stage:
    """meetbridge with the plugin pointed at it, and the host page in front of Mattermost."""

    live: LiveMeetbridge
    host: str
    browser: Browser

    @property
    def world(self) -> MattermostWorld:
        return self.live.world

    async def page_of(self, user: Account, channel: str, locale: str = "") -> Page:
        """A browser tab of ``user`` signed in to Mattermost, showing ``channel``."""
        context = await self.browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(f"{self.host}/api/v4/system/ping")
        status = await page.evaluate(
            """async ([login_id, password]) => (await fetch('/api/v4/users/login', {
                method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest'},
                body: JSON.stringify({login_id, password})})).status""",
            [user.username, PASSWORD],
        )
        assert status == 200, "cannot sign in through the host page"
        query = f"team={self.world.team_id}&channel={self.world.channels[channel]}"
        await page.goto(f"{self.host}/__host/host.html?{query}&locale={locale}")
        await page.wait_for_function(
            "window.mmHost && ((window.mmHost.ready && window.mmHost.connected)"
            " || window.mmHost.errors.length > 0)"
        )
        errors = await page.evaluate("window.mmHost.errors")
        assert errors == [], errors
        assert await page.evaluate("window.mmHost.pluginId") == PLUGIN_ID
        return page


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"companion_plugin_{name}.png"))


@pytest.fixture
async def stage(
    mattermost: MattermostWorld, installed_plugin: str, tmp_path: Path
) -> AsyncIterator[Stage]:
    executable = chromium_path()
    require(executable is not None, "Chromium (Debian package chromium)")
    async with serving_host(mattermost.url) as host:
        # Browsers reach Mattermost through the host page's origin: meetbridge's sign-in and
        # its meeting page's frame-ancestors name that origin, as they would a proxied site.
        live, server, task = await start_live(mattermost, tmp_path, mattermost_public_url=host)
        try:
            secret = secrets.token_urlsafe(32)
            await live.components.admin.set_secret("plugin_shared_secret", secret, "test")
            await live.components.state.refresh()
            saved = await patch_plugin_settings(
                mattermost, {"meetbridgeurl": live.url, "sharedsecret": secret}
            )
            assert saved.status_code == 200, saved.text
            chat = live.components.chat
            assert chat is not None
            public = mattermost.channels["public"]
            await eventually(lambda: chat.plugin_events.publish("check", {}, channel_id=public))
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_ARGS
                )
                yield Stage(live, host, browser)
                await browser.close()
        finally:
            await stop_live(live, server, task)


async def joined_card(live: LiveMeetbridge, channel: str, status: str) -> dict[str, Any]:
    card: dict[str, Any] = await eventually(lambda: card_of(live, channel, status))
    return card


async def test_the_call_button_starts_the_channels_meeting_through_the_plugin(
    stage: Stage,
) -> None:
    alice = stage.world.users["alice"]
    page = await stage.page_of(alice, "public")
    await page.click("#call-button")
    dock = page.get_by_test_id("meetbridge-embedded-meeting")
    await dock.wait_for()
    join_url = await dock.locator("iframe").get_attribute("src")
    assert join_url is not None and join_url.startswith(f"{stage.live.url}/join/")
    # The link is alice's own, made by meetbridge for the plugin's signed request.
    assert stage.live.components.join.link_user(join_url.rsplit("/", 1)[1]) == alice.id
    await screenshot(page, "call_button")
    # The App Bar entry does the same.
    await page.click("button.app-bar-item")
    await page.get_by_test_id("meetbridge-embedded-meeting").wait_for()
    await page.context.close()
