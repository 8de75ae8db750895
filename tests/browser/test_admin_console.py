"""The admin console in headless Chromium: sign-in, settings, credentials, the channel filter,
the meeting history with its recordings."""

from __future__ import annotations

import httpx2
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import update

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.store import meetings_repo, recordings_repo
from meetbridge.store.tables import admin_sessions
from meetbridge.web.admin import PER_PAGE
from tests.browser.conftest import Served
from tests.browser.meeting_support import serious_accessibility_violations
from tests.support.infinity import InfinityNode, basic_auth
from tests.support.livekit import LiveKitServer
from tests.support.livekit_fixtures import livekit_binary, livekit_server, livekit_webhooks  # noqa: F401


async def sign_in(page: Page, served: Served, user_id: str | None = None) -> None:
    admin = user_id or served.mattermost.add_user("root", roles="system_user system_admin")
    served.mattermost.signed_in = admin  # this browser is signed in to Mattermost as the admin
    token = served.components.console.login_link_token(UserId(admin))
    await page.goto(f"{served.url}/admin/login?token={token}")
    await expect(page.get_by_role("heading", name="meetbridge")).to_be_visible()


async def test_sign_in_through_the_signed_link(page: Page, served: Served) -> None:
    await sign_in(page, served)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "meetbridge_admin")
    # Path "/": the status page shows its details to signed-in admins (issue 20, item 9).
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    await expect(page.get_by_role("navigation", name="Admin sections")).to_be_visible()
    await page.goto(f"{served.url}/")
    await expect(page.get_by_role("heading", name="Meeting engines")).to_be_visible()


async def test_sign_in_links_expire_are_single_use_and_only_for_admins(
    page: Page, served: Served
) -> None:
    admin = served.mattermost.add_user("root", roles="system_user system_admin")
    served.mattermost.signed_in = admin
    console = served.components.console
    expired = console.login_link_token(UserId(admin), lifetime=-1)
    await page.goto(f"{served.url}/admin/login?token={expired}")
    await expect(page.get_by_role("alert")).to_contain_text("expired")
    token = console.login_link_token(UserId(admin))
    await page.goto(f"{served.url}/admin/login?token={token}")
    await page.context.clear_cookies()
    await page.goto(f"{served.url}/admin/login?token={token}")
    await expect(page.get_by_role("alert")).to_contain_text("used already")
    member = served.mattermost.add_user("member")
    served.mattermost.signed_in = member
    await page.goto(f"{served.url}/admin/login?token={console.login_link_token(UserId(member))}")
    await expect(page.get_by_role("alert")).to_contain_text("Only system admins")
    await page.goto(f"{served.url}/admin/settings")
    await expect(page.get_by_role("alert")).to_contain_text("/meet admin")


async def test_an_expired_session_asks_to_sign_in_again(page: Page, served: Served) -> None:
    await sign_in(page, served)
    async with served.components.core.database.transaction() as conn:
        await conn.execute(update(admin_sessions).values(expires_at=0.0))
    await page.goto(f"{served.url}/admin/settings")
    await expect(page.get_by_role("alert")).to_contain_text("session has ended")


async def test_every_setting_is_saved_validated_and_kept_after_a_restart(
    page: Page, served: Served
) -> None:
    await sign_in(page, served)
    await page.get_by_role("link", name="Settings", exact=True).click()
    values = {
        "Pexip Infinity server": "pexip.example.com",
        "Web app path": "branded",
        "Alias prefix": "mm-",
        "Ringing timeout (seconds)": "45",
        "Theme": "Acme theme",
    }
    for label, value in values.items():
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_label("Display name", exact=True).select_option("full_name")
    await page.get_by_label("Media encryption", exact=True).select_option("on")
    await page.get_by_label("Layout", exact=True).select_option("one_main_seven_pips")
    await page.get_by_label("In-meeting chat", exact=True).select_option("no")
    await page.get_by_label("Default engine", exact=True).select_option("zoom")
    await page.get_by_label("Zoom url", exact=True).fill("https://zoom.example.com")
    await page.get_by_label("Zoom client id", exact=True).fill("client-123")
    await page.get_by_label("Zoom client secret", exact=True).fill("s3cret-value")
    await page.get_by_label("LiveKit URL", exact=True).fill("https://livekit.example.com")
    await page.get_by_label("LiveKit API key", exact=True).fill("APIkey123")
    await page.get_by_label("Max participants", exact=True).fill("25")
    await page.get_by_label("Longest recording (minutes)", exact=True).fill("90")
    await page.get_by_label("Transcript language (empty: detected)", exact=True).fill("en")
    await page.get_by_label("Live caption language (empty: detected)", exact=True).fill("de")
    await page.get_by_label("Transcribe recordings", exact=True).uncheck()
    for label in ("Zoom account level", "Zoom restrict public channels"):
        await page.get_by_label(label, exact=True).check()
    for label in ("Direct media for DMs", "Embedded experience", "Allow guests"):
        await page.get_by_label(label, exact=True).check()
    for label in ("Show start/end notifications", "Names over video"):
        await page.get_by_label(label, exact=True).uncheck()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    expected = {
        "pexip_node": "pexip.example.com",
        "webapp_path": "branded",
        "alias_prefix": "mm-",
        "ringing_timeout": 45,
        "ivr_theme_name": "Acme theme",
        "display_name": "full_name",
        "crypto_mode": "on",
        "conference_layout": "one_main_seven_pips",
        "enable_chat": "no",
        "direct_media_dms": True,
        "embedded_experience": True,
        "allow_guests": True,
        "show_notifications": False,
        "enable_overlay_text": False,
        "default_engine": "zoom",
        "zoom_url": "https://zoom.example.com",
        "zoom_api_url": "",
        "zoom_account_level": True,
        "zoom_client_id": "client-123",
        "zoom_restrict_public_channels": True,
        "zoom_post_recording_password": False,
        "outbox_retention_days": 7,
        "livekit_url": "wss://livekit.example.com",
        "livekit_api_key": "APIkey123",
        "livekit_max_participants": 25,
        "recording_max_minutes": 90,
        "recording_reminder_minutes": 10,
        "recording_min_free_mb": 500,
        "transcription_enabled": False,
        "transcription_language": "en",
        "captions_language": "de",
    }
    assert (await served.components.admin.settings()).model_dump(mode="json") == expected
    assert (await served.components.admin.secrets_set())["zoom_client_secret"] is True
    await expect(page.get_by_label("Zoom client secret", exact=True)).to_have_value("")

    # A bad value: refused with the reason, nothing saved (not even the good change beside it).
    await page.get_by_label("Alias prefix", exact=True).fill("other-")
    await page.get_by_label("Ringing timeout (seconds)", exact=True).fill("9999")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("ringing_timeout")
    await expect(page.locator("#error-ringing_timeout")).to_be_visible()
    assert (await served.components.admin.settings()).alias_prefix == "mm-"

    await served.restart()
    await page.goto(f"{served.url}/admin/settings")
    await expect(page.get_by_label("Alias prefix", exact=True)).to_have_value("mm-")
    await expect(page.get_by_label("Ringing timeout (seconds)", exact=True)).to_have_value("45")
    await expect(page.get_by_label("Allow guests", exact=True)).to_be_checked()
    await expect(page.get_by_label("Display name", exact=True)).to_have_value("full_name")
    assert (await served.components.admin.settings()).model_dump(mode="json") == expected


async def test_credentials_are_shown_once_and_regenerated_only_after_confirmation(
    page: Page, served: Served
) -> None:
    await sign_in(page, served)
    await page.get_by_role("link", name="Pexip Infinity", exact=True).click()
    await expect(page.get_by_label("Policy server URL", exact=True)).to_have_value(
        f"{served.url}/api/pexip/"
    )
    await expect(page.get_by_label("Event sink URL", exact=True)).to_have_value(
        f"{served.url}/api/pexip/event_sink"
    )
    first_password = await page.get_by_label("Password", exact=True).input_value()
    assert first_password
    await expect(page.get_by_role("button", name="Copy the policy server URL")).to_be_visible()
    await page.reload()
    await expect(page.locator("#password")).to_contain_text("shown once")
    await page.get_by_role("link", name="Regenerate credentials…").click()
    await expect(page.get_by_role("alert")).to_contain_text("stop Infinity's current ones")
    await page.get_by_role("button", name="Yes, regenerate").click()
    new_password = await page.get_by_label("Password", exact=True).input_value()
    assert new_password and new_password != first_password
    username = await page.get_by_label("Username", exact=True).input_value()
    async with httpx2.AsyncClient(base_url=served.url) as http:
        await served.components.state.refresh()
        query = InfinityNode("10.0.0.1").service_configuration("other")
        old = await http.get(
            "/api/pexip/policy/v1/service/configuration",
            params=query,
            headers=basic_auth(username, first_password),
        )
        new = await http.get(
            "/api/pexip/policy/v1/service/configuration",
            params=query,
            headers=basic_auth(username, new_password),
        )
    assert (old.status_code, new.status_code) == (401, 404)


async def test_moving_one_channel_out_of_a_thousand(page: Page, served: Served) -> None:
    teams = [served.mattermost.add_team(name) for name in ("Acme", "Globex")]
    for number in range(1000):
        served.mattermost.add_channel(f"Channel {number:04d}", team_id=teams[number % 2])
    target = served.mattermost.add_channel("Board of Directors", kind="P", team_id=teams[0])
    await sign_in(page, served)
    await page.get_by_role("link", name="Filter channels", exact=True).click()
    await page.get_by_role("button", name="Refresh the channel list from Mattermost").click()
    await expect(page.get_by_role("heading", name="Allowed channels (1001)")).to_be_visible()
    await expect(page.get_by_text("Page 1 of 21")).to_be_visible()
    await page.get_by_label("Search allowed channels").fill("board")
    await page.get_by_label("Search allowed channels").press("Enter")
    await page.get_by_label("Board of Directors").check()
    await page.get_by_role("button", name="Disallow selected", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("1 channel disallowed")
    await expect(page.get_by_role("heading", name="Disallowed channels (1)")).to_be_visible()
    await served.components.state.refresh()
    async with httpx2.AsyncClient(base_url=served.url) as http:
        credentials = served.components.state.credentials
        assert credentials is not None
        auth = basic_auth(credentials.username, credentials.password)
        refused = await http.get(
            "/api/pexip/policy/v1/service/configuration",
            params=InfinityNode("10.0.0.1").service_configuration(f"matt-{target}"),
            headers=auth,
        )
        other = next(iter(served.mattermost.channels))
        allowed = await http.get(
            "/api/pexip/policy/v1/service/configuration",
            params=InfinityNode("10.0.0.1").service_configuration(f"matt-{other}"),
            headers=auth,
        )
    assert refused.json() == {"status": "success", "action": "reject", "result": {}}
    assert allowed.json()["result"]["service_type"] == "conference"
    await page.get_by_label("Board of Directors").check()
    await page.get_by_role("button", name="Allow selected", exact=True).click()
    await expect(page.get_by_role("heading", name="Disallowed channels (0)")).to_be_visible()


async def test_a_guest_link_is_revoked_in_the_console_and_stops_at_once(
    page: Page, served: Served
) -> None:
    channel = served.mattermost.add_channel("Customer call")
    await served.setting("default_engine", "pexip")
    url = await served.components.guest_links.create(ChannelId(channel), UserId("a" * 26), 3)
    await sign_in(page, served)
    await page.get_by_role("link", name="Guest links", exact=True).click()
    table = page.get_by_role("table", name="Guest links in force (1)")
    await expect(table).to_contain_text(channel)
    await expect(page.locator("main")).not_to_contain_text(url.rsplit("/", 1)[1])  # no token
    assert await serious_accessibility_violations(page) == []
    pins = await served.components.state.pins_for(ChannelId(channel))
    await table.get_by_role("checkbox", name="also remove its guests").check()
    await table.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The guest link was revoked and the channel's guest PIN changed. "
        "0 guests who came through it left the meeting."
    )
    assert (await served.components.state.pins_for(ChannelId(channel))).guest_pin != pins.guest_pin
    await expect(page.get_by_text("No guest link is in force.")).to_be_visible()
    await page.goto(url)
    await expect(page.get_by_role("alert")).to_have_text("This guest link was revoked.")


async def test_the_guest_name_page_passes_the_accessibility_audit(
    page: Page, served: Served
) -> None:
    channel = served.mattermost.add_channel("Customer call")
    await served.setting("default_engine", "pexip")
    url = await served.components.guest_links.create(ChannelId(channel), UserId("a" * 26), 3)
    await page.goto(url)
    await expect(
        page.get_by_role("heading", name="Join the meeting of Customer call")
    ).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("button", name="Join as guest").click()  # empty: the browser asks
    await page.get_by_label("Your name").fill("   ")
    await page.get_by_role("button", name="Join as guest").click()
    await expect(page.get_by_role("alert")).to_have_text("Type the name the others will see.")
    await expect(page.get_by_label("Your name")).to_have_attribute("aria-invalid", "true")
    assert await serious_accessibility_violations(page) == []


async def test_meetings_and_audit_log(page: Page, served: Served) -> None:
    await served.components.admin.change_setting("ringing_timeout", 12, "cli")
    await sign_in(page, served)
    await page.get_by_role("link", name="Meetings", exact=True).click()
    await expect(page.get_by_text("No meeting is in progress.")).to_be_visible()
    await page.get_by_role("link", name="Audit log", exact=True).click()
    row = page.get_by_role("row").filter(has_text="setting.changed")
    await expect(row).to_contain_text("ringing_timeout")
    await expect(row).to_contain_text("cli")


HOSTILE = '<img src=x onerror="document.title=1">Mallory'


async def recorded_meetings(served: Served, count: int) -> list[int]:
    """``count`` ended meetings, oldest first; the oldest in a channel with a hostile name and
    with three recordings: posted and incomplete, failed, posted whole."""
    database = served.components.core.database
    hostile = ChannelId(served.mattermost.add_channel(HOSTILE))
    assert served.components.chat is not None
    await served.components.chat.catalogue.refresh()  # the console names channels from it
    ids: list[int] = []
    for number in range(count):
        started = 1_700_000_000.0 + number * 3600
        channel = hostile if number == 0 else ChannelId("c" * 26)
        meeting = Meeting(f"conf-{number}", channel, started, ended_at=started + 900)
        async with database.transaction() as conn:
            await meetings_repo.save(conn, "livekit", meeting)
        assert meeting.id is not None
        ids.append(meeting.id)
    outcomes: list[dict[str, object]] = [
        {"state": "done", "seconds": 125.0, "size_bytes": 3_300_000, "incomplete": True,
         "post_id": "a" * 26},
        {"state": "failed"},
        {"state": "done", "seconds": 3599.0, "size_bytes": 900_000, "post_id": "b" * 26},
    ]  # fmt: skip
    async with database.transaction() as conn:
        for offset, outcome in enumerate(outcomes):
            recording_id = await recordings_repo.create(
                conn, "c" * 26, ids[0], "mb-room", "u" * 26, 1_700_000_000.0 + offset, "node"
            )
            await recordings_repo.change(conn, recording_id, **outcome)
    return ids


async def test_the_meeting_history_lists_each_meeting_s_recordings_a_page_at_a_time(
    page: Page, served: Served
) -> None:
    await recorded_meetings(served, PER_PAGE + 1)
    await sign_in(page, served)
    await page.get_by_role("link", name="Meetings", exact=True).click()
    recent = page.get_by_role("table").nth(1)
    await expect(recent.get_by_role("row")).to_have_count(PER_PAGE + 1)  # a page and a header
    await expect(recent).not_to_contain_text("Mallory")  # the oldest is on the next page
    await page.get_by_role("link", name="Older").click()
    row = page.get_by_role("row").filter(has_text="Mallory")
    await expect(row).to_contain_text(HOSTILE)  # shown as text, not markup
    assert await page.locator("main img").count() == 0
    assert await page.title() != "1"
    items = row.get_by_role("listitem")
    await expect(items).to_have_text(
        ["Recording, 2:05, 3.1 MB: incomplete", "Recording: failed",
         "Recording, 59:59, 879 KB: uploaded"]
    )  # fmt: skip
    mattermost = served.mattermost_public_url
    await expect(items.nth(0).get_by_role("link")).to_have_attribute(
        "href", f"{mattermost}/_redirect/pl/{'a' * 26}"
    )
    await expect(items.nth(1).get_by_role("link")).to_have_count(0)  # nothing was posted
    await expect(items.nth(2).get_by_role("link")).to_have_attribute(
        "href", f"{mattermost}/_redirect/pl/{'b' * 26}"
    )
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("link", name="Newer").click()
    await expect(page.get_by_role("link", name="Older")).to_be_visible()


@pytest.mark.parametrize(
    "path", ["/admin/settings", "/admin/channels", "/admin/pexip/regenerate", "/admin/guests"]
)
async def test_changes_need_the_csrf_token_and_our_origin(
    page: Page, served: Served, path: str
) -> None:
    await sign_in(page, served)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "meetbridge_admin")
    async with httpx2.AsyncClient(
        base_url=served.url, cookies={"meetbridge_admin": cookie["value"]}
    ) as http:
        missing = await http.post(path, data={"alias_prefix": "evil-", "confirm": "yes"})
        forged = await http.post(
            path, data={"csrf": "guess", "alias_prefix": "evil-", "confirm": "yes"}
        )
        elsewhere = await http.post(
            path, data={"csrf": "x"}, headers={"Origin": "https://evil.example.com"}
        )
    assert (missing.status_code, forged.status_code, elsewhere.status_code) == (403, 403, 403)
    assert (await served.components.admin.settings()).alias_prefix == "matt-"


async def test_every_control_has_a_label_and_takes_the_keyboard(page: Page, served: Served) -> None:
    await sign_in(page, served)
    for path in (
        "/admin/settings",
        "/admin/pexip",
        "/admin/channels",
        "/admin/meetings",
        "/admin/guests",
        "/admin/audit",
    ):
        await page.goto(f"{served.url}{path}")
        unlabeled = await page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, button, a[href]')]
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                               && !(el.textContent || '').trim())
                 .map(el => el.outerHTML)"""
        )
        assert unlabeled == [], path
    await page.goto(f"{served.url}/admin/settings")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.tagName")
    assert focused in ("A", "BUTTON", "INPUT", "SELECT")
    await page.get_by_label("Alias prefix", exact=True).focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("kb-")
    await page.get_by_role("button", name="Save settings").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    assert (await served.components.admin.settings()).alias_prefix == "kb-"


ENGINE_GROUPS = {
    "General": ("Default engine", "Display name", "Ringing timeout (seconds)"),
    "Pexip Infinity": ("Pexip Infinity server", "Alias prefix", "Layout", "Allow guests"),
    "Zoom": ("Zoom url", "Zoom client id", "Zoom client secret", "Zoom webhook secret token"),
    "LiveKit": ("LiveKit URL", "LiveKit API key", "LiveKit API secret", "Max participants"),
}


async def test_settings_are_grouped_by_engine(page: Page, served: Served) -> None:
    await sign_in(page, served)
    await page.goto(f"{served.url}/admin/settings")
    for group, labels in ENGINE_GROUPS.items():
        section = page.get_by_role("group", name=group, exact=True)
        for label in labels:
            await expect(section.get_by_label(label, exact=True)).to_have_count(1)
    livekit = page.get_by_role("group", name="LiveKit", exact=True)
    await expect(livekit.get_by_label("LiveKit API secret", exact=True)).to_have_attribute(
        "type", "password"
    )
    await expect(livekit.locator("#livekit-reachability")).to_contain_text("Not configured")


async def test_the_livekit_section_saves_a_write_only_secret_and_shows_reachability(
    page: Page,
    served: Served,
    livekit_server: LiveKitServer,  # noqa: F811
) -> None:
    await sign_in(page, served)
    await page.goto(f"{served.url}/admin/settings")
    livekit = page.get_by_role("group", name="LiveKit", exact=True)
    await livekit.get_by_label("LiveKit URL", exact=True).fill(livekit_server.ws_url)
    await livekit.get_by_label("LiveKit API key", exact=True).fill(livekit_server.api_key.key)
    await livekit.get_by_label("LiveKit API secret", exact=True).fill("wrong-secret-value")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    await expect(livekit.locator("#livekit-reachability")).to_contain_text("Not reachable")
    await expect(livekit.get_by_label("LiveKit API secret", exact=True)).to_have_value("")

    await livekit.get_by_label("LiveKit API secret", exact=True).fill(livekit_server.api_key.secret)
    await page.get_by_role("button", name="Save settings").click()
    await expect(livekit.locator("#livekit-reachability")).to_contain_text("Reachable")
    assert livekit_server.api_key.secret not in await page.content()
    assert (await served.components.admin.secrets_set())["livekit_api_secret"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/admin",
        "/admin/settings",
        "/admin/pexip",
        "/admin/channels",
        "/admin/meetings",
        "/admin/guests",
        "/admin/audit",
    ],
)
async def test_admin_pages_have_no_serious_accessibility_violations(
    page: Page, served: Served, path: str
) -> None:
    served.mattermost.add_channel("Town square")
    await sign_in(page, served)
    await page.goto(f"{served.url}{path}")
    assert await serious_accessibility_violations(page) == []


async def test_a_refused_settings_form_has_no_serious_accessibility_violations(
    page: Page, served: Served
) -> None:
    await sign_in(page, served)
    await page.goto(f"{served.url}/admin/settings")
    await page.get_by_label("Ringing timeout (seconds)", exact=True).fill("9999")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("ringing_timeout")
    assert await serious_accessibility_violations(page) == []
