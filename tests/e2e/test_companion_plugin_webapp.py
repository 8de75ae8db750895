"""The companion plugin's webapp part in real Chromium, inside a host page that stands in for
Mattermost's web app (tests/e2e/plugin_host), with the real Mattermost (the plugin installed
through its REST API, bundle and all) and the real meetbridge behind it.

Each test leaves a screenshot of its component in test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
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
    await page.get_by_role("button", name="Leave the embedded meeting").click()
    await dock.wait_for(state="detached")
    await page.click("button.app-bar-item")
    again = await dock.locator("iframe").get_attribute("src")
    assert again is not None and again.startswith(f"{stage.live.url}/join/")
    assert stage.live.components.join.link_user(again.rsplit("/", 1)[1]) == alice.id
    await page.context.close()


async def host_events(page: Page, name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = await page.evaluate(
        "name => window.mmHost.events.filter(e => e.event === name)", name
    )
    return events


async def test_the_meeting_card_is_drawn_live_from_the_posts_real_props(stage: Stage) -> None:
    live, world = stage.live, stage.world
    alice, bob = world.users["alice"], world.users["bob"]
    page = await stage.page_of(alice, "public")
    await page.click("#call-button")
    frame = page.get_by_test_id("meetbridge-embedded-meeting").locator("iframe")
    join_url = await frame.get_attribute("src")
    assert join_url is not None
    joined = await live.join(join_url, "alice-web-1")
    await live.settle()
    card = await joined_card(live, "public", "STARTED")
    # The attachment card stays for clients without the plugin; the Zoom props are there too.
    actions = card["props"]["attachments"][0]["actions"]
    assert [a["name"] for a in actions] == ["Join", "Leave", "End"]
    props = card["props"]
    assert props["meeting_provider"] == "Pexip Infinity"
    assert props["meeting_creator_username"] == "alice"
    assert props["meeting_link"] == f"{live.url}/meet/{world.channels['public']}"
    drawn = page.locator(f'[data-post-id="{card["id"]}"]').get_by_test_id("meetbridge-card")
    await drawn.wait_for()
    assert await drawn.get_by_test_id("meetbridge-roster").inner_text() == "alice"
    # Pexip: the card says that Leave cannot reach Pexip's own app.
    assert (
        "In Pexip Infinity's own app"
        in await drawn.get_by_test_id("meetbridge-own-apps").inner_text()
    )
    # alice's Mattermost profile picture, loaded from Mattermost as the signed-in user.
    avatar = drawn.locator(f'img.mb-avatar[src$="/api/v4/users/{alice.id}/image"]')
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await avatar.element_handle()
    )
    ticking = drawn.get_by_test_id("meetbridge-duration")
    before = await ticking.inner_text()
    await page.wait_for_function(
        "([el, before]) => el.textContent !== before",
        arg=[await ticking.element_handle(), before],
    )
    # bob joins: meetbridge edits the post, the card follows without a reload.
    await live.join(await live.link_for("public", bob), "bob-web-1")
    await live.settle()
    roster = drawn.get_by_test_id("meetbridge-roster")
    await page.wait_for_function(
        "el => el.textContent.includes('bob')", arg=await roster.element_handle()
    )
    await page.get_by_role("button", name="Leave the embedded meeting").click()
    await screenshot(page, "meeting_card")
    # Leave is the card's own button, pressed through Mattermost: meetbridge asks to confirm.
    await drawn.get_by_role("button", name="Leave").click()
    await page.wait_for_function(
        "window.mmHost.events.some(e => e.event === 'open_dialog')", timeout=15_000
    )
    await live.end(joined.alias)
    await live.settle()
    await joined_card(live, "public", "ENDED")
    await page.locator(f'[data-post-id="{card["id"]}"] .mb-card--ended').wait_for()
    ended = page.locator(f'[data-post-id="{card["id"]}"]').get_by_test_id("meetbridge-card")
    assert "Meeting ended" in await ended.inner_text()
    assert await ended.get_by_test_id("meetbridge-own-apps").count() == 0
    assert await ended.get_by_role("button").count() == 0
    await page.context.close()


async def test_a_dm_call_rings_in_the_callees_panel_and_becomes_a_missed_call(
    stage: Stage,
) -> None:
    live, world = stage.live, stage.world
    alice, bob = world.users["alice"], world.users["bob"]
    await live.setting("ringing_timeout", 10)  # time enough to open a second window
    page = await stage.page_of(bob, "public")
    await live.join(await live.link_for("dm", alice), "alice-dm-1")
    await live.settle()
    panel = page.get_by_test_id("meetbridge-incoming-call")
    await panel.wait_for(timeout=15_000)
    assert "alice is calling you" in await panel.inner_text()
    assert await panel.get_attribute("data-tone") in ("playing", "blocked")
    await screenshot(page, "incoming_call")
    # A window bob opens while it rings shows the call too (asked for on load).
    second = await stage.page_of(bob, "town-square")
    await second.get_by_test_id("meetbridge-incoming-call").wait_for(timeout=10_000)
    await second.context.close()
    # Delivered through the plugin: no ringing message from the bot.
    async with world.client(bob) as api:
        direct = (await api.post("/channels/direct", json=[bob.id, world.bot.id])).json()
        posts = (await api.get(f"/channels/{direct['id']}/posts")).json()["posts"].values()
    assert not [p for p in posts if "meetbridge_ring" in (p.get("props") or {})]

    async def missed() -> bool:
        await live.settle()
        return await page.get_by_test_id("meetbridge-missed-call").count() == 1

    await eventually(missed, timeout=20)
    assert await panel.count() == 0
    assert (
        "Missed call from alice" in await page.get_by_test_id("meetbridge-missed-call").inner_text()
    )
    await screenshot(page, "missed_call")
    await page.context.close()


async def test_join_from_the_panel_opens_the_meeting_and_ignore_silences_the_call(
    stage: Stage,
) -> None:
    live, world = stage.live, stage.world
    alice, bob, carol = (world.users[name] for name in ("alice", "bob", "carol"))
    await live.setting("ringing_timeout", 4)
    bobs, carols = await stage.page_of(bob, "public"), await stage.page_of(carol, "public")
    carols_other = await stage.page_of(carol, "town-square")  # carol's second window
    await live.join(await live.link_for("gm", alice), "alice-gm-1")
    await live.settle()
    for page in (bobs, carols, carols_other):
        await page.get_by_test_id("meetbridge-incoming-call").wait_for(timeout=15_000)
    await bobs.get_by_test_id("meetbridge-incoming-call").get_by_role("button", name="Join").click()
    frame = bobs.get_by_test_id("meetbridge-embedded-meeting").locator("iframe")
    join_url = await frame.get_attribute("src")
    assert join_url is not None
    assert live.components.join.link_user(join_url.rsplit("/", 1)[1]) == bob.id
    # Her Ignore in one window closes the call in her other window as well.
    ignore = carols.get_by_test_id("meetbridge-incoming-call").get_by_role("button", name="Ignore")
    await ignore.click()
    assert await carols.get_by_test_id("meetbridge-incoming-call").count() == 0

    async def ignored_everywhere() -> bool:  # meetbridge's "ignored" reached her other window
        await live.settle()
        return await carols_other.get_by_test_id("meetbridge-incoming-call").count() == 0

    await eventually(ignored_everywhere, timeout=20)
    events = await host_events(carols_other, f"custom_{PLUGIN_ID}_incoming_call")
    assert events[-1]["data"]["state"] == "ignored"
    await asyncio.sleep(5)  # past the ringing timeout: no missed call for a call she declined
    await live.settle()
    for page in (carols, carols_other, bobs):
        assert await page.get_by_test_id("meetbridge-missed-call").count() == 0
    await carols_other.context.close()
    await screenshot(bobs, "incoming_call_joined")
    for page in (bobs, carols):
        await page.context.close()


async def test_the_sidebar_shows_which_channels_have_a_meeting_in_progress(stage: Stage) -> None:
    live, world = stage.live, stage.world
    alice, bob = world.users["alice"], world.users["bob"]
    page = await stage.page_of(bob, "town-square")
    engineering = page.locator("#sidebarItem_engineering")
    assert await engineering.get_by_test_id("meetbridge-live-indicator").count() == 0
    joined = await live.join(await live.link_for("public", alice), "alice-side-1")
    await live.settle()
    await engineering.get_by_test_id("meetbridge-live-indicator").wait_for(timeout=15_000)
    assert await page.get_by_test_id("meetbridge-live-indicator").count() == 1  # only there
    await screenshot(page, "sidebar_indicator")
    # A page opened during the meeting shows it at once (asked for on load, not only events).
    later = await stage.page_of(world.users["carol"], "town-square")
    await (
        later.locator("#sidebarItem_engineering")
        .get_by_test_id("meetbridge-live-indicator")
        .wait_for(timeout=10_000)
    )
    await later.context.close()
    await live.end(joined.alias)
    await live.settle()
    await engineering.get_by_test_id("meetbridge-live-indicator").wait_for(
        state="detached", timeout=15_000
    )
    await page.context.close()


async def test_the_embedded_meeting_survives_channel_switches_and_pops_out(
    stage: Stage,
) -> None:
    live, world = stage.live, stage.world
    await live.setting("embedded_experience", True)
    page = await stage.page_of(world.users["alice"], "public")
    await page.click("#call-button")
    dock = page.get_by_test_id("meetbridge-embedded-meeting")
    await dock.wait_for()
    join_url = await dock.locator("iframe").get_attribute("src")
    meeting = page.frame_locator('[data-testid="meetbridge-embedded-meeting"] iframe')
    # meetbridge's own meeting page, framed (its frame-ancestors name Mattermost's origin).
    await meeting.locator("#mb-status").wait_for(state="attached", timeout=20_000)
    frame = next(f for f in page.frames if f.url.startswith(f"{live.url}/join/"))
    await frame.evaluate("window.stillTheSamePage = true")
    await page.click("#sidebarItem_town-square")
    await page.wait_for_function(
        "document.querySelector('#channelHeaderTitle').textContent === 'Town Square'"
    )
    assert await frame.evaluate("window.stillTheSamePage") is True  # not reloaded: call kept
    await screenshot(page, "embedded_meeting")
    async with page.context.expect_page() as popped:
        await dock.get_by_role("button", name="Pop out").click()
    window = await popped.value
    assert join_url is not None
    await window.wait_for_url(join_url)  # the same personal link, in a window of its own
    await dock.wait_for(state="detached")
    await page.context.close()


async def test_a_post_of_the_card_type_by_anyone_but_the_bot_is_shown_as_plain_text(
    stage: Stage,
) -> None:
    world = stage.world
    alice, bob = world.users["alice"], world.users["bob"]
    page = await stage.page_of(bob, "public")
    forged = {
        "channel_id": world.channels["public"],
        "message": "<b>not a card</b>",
        "type": "custom_meetbridge",
        "props": {
            "meeting_status": "STARTED",
            "meeting_topic": "<img src=x onerror=alert(1)>",
            "meeting_link": "https://phishing.example/",
            "attachments": [{"actions": [{"id": "join", "name": "Join"}]}],
        },
    }
    async with world.client(alice) as api:
        created = await api.post("/posts", json=forged)
    assert created.status_code == 201, created.text
    shown = page.locator(f'[data-post-id="{created.json()["id"]}"]')
    await shown.get_by_test_id("meetbridge-untrusted-post").wait_for(timeout=10_000)
    assert await shown.inner_text() == f"{alice.id}\n<b>not a card</b>"  # literal text
    assert await shown.locator("a, button, img").count() == 0
    await screenshot(page, "untrusted_post")
    await page.context.close()


async def test_the_plugin_speaks_the_users_language(stage: Stage) -> None:
    page = await stage.page_of(stage.world.users["alice"], "public", locale="de")
    assert await page.inner_text("#call-button") == "Besprechung"
    assert await page.get_attribute("button.app-bar-item", "title") == (
        "Besprechung dieses Kanals starten oder beitreten (meetbridge)"
    )
    # The same catalogue, given to the web app through registerTranslations.
    catalogue = await page.evaluate("window.mmHost.registered.translations[0]('de')")
    assert catalogue[f"{PLUGIN_ID}.ring.ignore"] == "Ignorieren"
    english = await page.evaluate("window.mmHost.registered.translations[0]('en')")
    assert english[f"{PLUGIN_ID}.ring.ignore"] == "Ignore"
    await page.click("#call-button")
    await page.get_by_role("button", name="In eigenem Fenster").wait_for()
    await screenshot(page, "german")
    await page.context.close()
