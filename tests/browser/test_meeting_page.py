"""The embedded meeting page (web/, built into static/meeting/) in headless Chromium, joining a
simulated Pexip Conferencing Node (tests/support/conferencing_node.py).

The page is opened from a real join link; what the browser sends to the node is compared with
what meetbridge itself decided for that link (``JoinService.open``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Response, expect

from meetbridge.ports import JoinTarget
from tests.browser.conftest import Served
from tests.browser.meeting_support import build_meeting_assets, serious_accessibility_violations
from tests.support.conferencing_node import ConferencingNode
from tests.support.requirements import require

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
BUILT = ROOT / "src" / "meetbridge" / "web" / "static" / "meeting"
TIMEOUT = 15_000  # ms, for expectations that wait on the SDK


@pytest.fixture(scope="session")
def meeting_assets() -> Path:
    return build_meeting_assets()


pytestmark = pytest.mark.usefixtures("meeting_assets")


@pytest.fixture(autouse=True)
def browser_console(page: Page) -> None:
    """The page's console and errors go to stdout, which pytest shows when a test fails."""
    page.on("console", lambda message: print(f"[console.{message.type}] {message.text}"))
    page.on("pageerror", lambda error: print(f"[pageerror] {error}"))


@pytest.fixture
async def node() -> AsyncIterator[ConferencingNode]:
    """A simulated Conferencing Node, not yet listening ("down" until a test starts it)."""
    simulated = ConferencingNode()
    yield simulated
    await simulated.stop()
    simulated.close()


async def meeting_link(
    served: Served, node: ConferencingNode, kind: str = "O", title: str = "Design Review"
) -> tuple[str, JoinTarget]:
    """A join link for a new user in a new channel, and what meetbridge resolves it to."""
    channel_id = served.mattermost.add_channel(title, kind)
    user_id = served.mattermost.add_user("dana", first="Dana", last="Reyes")
    await make_member(served, channel_id, user_id)
    await served.setting("embedded_experience", True)
    await served.setting("pexip_node", node.address)
    await served.setting("default_engine", "pexip")  # the Pexip page (new installs: livekit)
    url = await served.join_link(channel_id, user_id)
    target = await served.components.join.open(url.rsplit("/", 1)[1])
    return url, target


async def make_member(served: Served, channel_id: str, user_id: str) -> None:
    """The user belongs to the channel.

    The Mattermost stand-in answers GET channel and GET user only (not channel members), so the
    membership is put into meetbridge's directory cache, as its WebSocket would after a join.
    """
    add_member = getattr(served.mattermost, "add_member", None)
    if callable(add_member):
        add_member(channel_id, user_id)
        return
    memberships = getattr(served.components.directory, "memberships", None)
    require(memberships is not None, "a Mattermost directory with a membership cache")
    assert memberships is not None
    memberships.put(f"{channel_id}:{user_id}", True)


async def joined(page: Page) -> None:
    await expect(page.locator("#mb-status")).to_have_attribute(
        "data-state", re.compile("waiting|in-meeting"), timeout=TIMEOUT
    )


# ------------------------------------------------------------------------------------------------


async def test_page_renders_every_control_with_an_accessible_label(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)

    await expect(page.get_by_role("heading", name="Design Review")).to_be_visible()
    # Microphone, camera and share are named after what pressing them does, as their visible
    # text says (no aria-pressed, which would contradict a changing name).
    for name in ("Unmute microphone", "Stop camera", "Share screen"):  # a channel: muted
        button = page.get_by_role("button", name=name, exact=True)
        await expect(button).to_be_visible()
        await expect(button).not_to_have_attribute("aria-pressed", re.compile(".*"))
    toggles = {
        "Pop out presentation": "false",
        "Show presentation in the main area": "false",
    }
    for name, pressed in toggles.items():
        button = page.get_by_role("button", name=name, exact=True)
        await expect(button).to_be_visible()
        await expect(button).to_have_attribute("aria-pressed", pressed)
    for name in ("Participants", "Devices and effects", "Leave meeting"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Leave meeting")).to_be_enabled()
    await expect(page.get_by_role("button", name="Share screen")).to_be_enabled()
    # Nothing is presented yet: these two wait for a presentation.
    await expect(page.get_by_role("button", name="Pop out presentation")).to_be_disabled()
    await expect(
        page.get_by_role("button", name="Show presentation in the main area")
    ).to_be_disabled()

    settings = page.get_by_role("button", name="Devices and effects")
    await expect(settings).to_have_attribute("aria-expanded", "false")
    await settings.click()
    await expect(settings).to_have_attribute("aria-expanded", "true")
    for label in ("Microphone", "Camera", "Speaker"):
        select = page.get_by_label(label, exact=True)
        await expect(select).to_be_visible()
        assert await select.evaluate("e => e.tagName") == "SELECT"
    # The fake devices are listed by name once camera and microphone are open.
    await expect(page.get_by_label("Camera", exact=True).locator("option")).not_to_have_count(0)
    for name in ("No effect", "Background blur", "Background replacement"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_have_attribute(
            "aria-pressed", "true" if name == "No effect" else "false"
        )
    # Escape closes the settings and gives focus back to their button.
    await page.keyboard.press("Escape")
    await expect(settings).to_have_attribute("aria-expanded", "false")
    await expect(settings).to_be_focused()

    # Keyboard: every control is reachable with Tab and works with Enter / Space.
    mic = page.locator("#mb-mic")
    await mic.focus()
    await page.keyboard.press("Enter")
    await expect(mic).to_have_accessible_name("Mute microphone")
    await expect(mic).to_contain_text("Mute")
    await page.keyboard.press("Space")
    await expect(mic).to_have_accessible_name("Unmute microphone")
    await expect(mic).to_contain_text("Unmute")
    reached = set()
    await page.locator("body").focus()
    for _ in range(30):
        await page.keyboard.press("Tab")
        reached.add(await page.evaluate("document.activeElement?.id || ''"))
    assert {"mb-mic", "mb-camera-toggle", "mb-share", "mb-leave"} <= reached

    # The status is a live region, in words.
    await expect(page.locator("#mb-status")).to_have_attribute("role", "status")
    await expect(page.locator("#mb-status")).to_have_text("Waiting for others to join")


async def test_join_request_carries_alias_display_name_pin_and_call_tag(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, target = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)

    [request] = node.requests_to("request_token")
    assert request.alias == target.page_config["alias"]
    assert request.headers["pin"] == target.page_config["pin"]
    assert target.page_config["pin"]  # a channel meeting has a Host PIN
    assert request.body["display_name"] == target.display_name == "dana"
    assert request.body["call_tag"] == target.page_config["callTag"]
    assert str(target.page_config["callTag"]).startswith("mbu.")
    assert request.body["node"] == node.address
    assert request.headers["origin"] == served.url
    # The browser asked for the right to send the PIN header (CORS preflight).
    preflights = [
        r for r in node.requests if r.method == "OPTIONS" and r.endpoint == "request_token"
    ]
    assert preflights and "pin" in preflights[0].headers["access-control-request-headers"]
    # Then the SDK opened the event stream and offered media with the token it was given.
    [events] = await node.wait_for("events", method="GET")
    assert events.alias == target.page_config["alias"]
    assert events.query["token"] in node.tokens
    [offer] = await node.wait_for("/calls")
    assert offer.body["call_type"] == "WEBRTC"
    assert "m=audio" in offer.body["sdp"] and "m=video" in offer.body["sdp"]
    assert node.tokens[offer.headers["token"]] in offer.path


async def test_a_channel_meeting_starts_muted(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, target = await meeting_link(served, node, kind="O")
    assert target.start_muted
    await page.goto(url)
    await joined(page)

    mic = page.locator("#mb-mic")
    await expect(mic).to_have_accessible_name("Unmute microphone")
    await expect(mic).to_contain_text("Unmute")
    # The node is told, so that the others see it; and the local track is silent.
    [mute] = await node.wait_for("/mute")
    me = node.tokens[mute.headers["token"]]
    assert mute.endpoint == f"participants/{me}/mute"
    assert await page.evaluate("() => [...document.querySelectorAll('video')].length > 0")
    await expect(page.locator("#mb-participant-list")).to_contain_text("dana (you)")
    await expect(page.locator("#mb-participant-list")).to_contain_text("muted")

    # The node echoing our own mute back is not "muted by the host".
    await expect(page.locator("#mb-notice")).to_have_text("")

    await mic.click()
    await expect(mic).to_have_accessible_name("Mute microphone")
    await node.wait_for("/unmute")


async def test_a_direct_message_meeting_starts_unmuted(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, target = await meeting_link(served, node, kind="D", title="")
    assert not target.start_muted
    await page.goto(url)
    await joined(page)

    mic = page.locator("#mb-mic")
    await expect(mic).to_have_accessible_name("Mute microphone")
    await expect(mic).to_contain_text("Mute")
    await node.wait_for("/calls")
    assert node.requests_to("/mute") == []


async def test_an_unreachable_node_is_explained_and_retry_joins(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    url, _ = await meeting_link(served, node)  # the node is down: nothing listens on its port
    await page.goto(url)

    problem = page.get_by_role("alert")
    await expect(problem).to_contain_text("cannot be reached", timeout=TIMEOUT)
    await expect(problem).to_contain_text(node.address)
    await expect(page.locator("#mb-status")).to_have_text("Could not join the meeting")
    await expect(page.locator("#mb-status")).to_have_attribute("data-state", "failed")
    retry = page.get_by_role("button", name="Retry")
    await expect(retry).to_be_visible()
    await expect(retry).to_be_focused()

    await node.start()
    await retry.click()
    await joined(page)
    await expect(problem).to_be_hidden()
    assert len(node.requests_to("request_token")) == 1


async def test_a_refused_pin_is_explained_and_retry_joins(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    node.mode = "pin_refused"
    await node.start()
    url, target = await meeting_link(served, node)
    await page.goto(url)

    problem = page.get_by_role("alert")
    await expect(problem).to_contain_text("refused the meeting PIN", timeout=TIMEOUT)
    await expect(problem).to_contain_text("Invalid PIN")
    await expect(page.locator("#mb-status")).to_have_text("Could not join the meeting")
    [refused] = node.requests_to("request_token")
    assert refused.headers["pin"] == target.page_config["pin"]
    # The failed attempt got no further.
    assert node.requests_to("events", method="GET") == []

    node.mode = "normal"
    await page.get_by_role("button", name="Retry").click()
    await joined(page)
    assert [r.headers["pin"] for r in node.requests_to("request_token")] == [
        target.page_config["pin"]
    ] * 2


async def test_the_connection_state_is_shown_in_words(
    page: Page, context: BrowserContext, served: Served, node: ConferencingNode
) -> None:
    node.token_delay = 1.5
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)

    state = page.locator("#mb-status")
    await expect(state).to_have_text("Connecting…")
    await expect(state).to_have_text("Waiting for others to join", timeout=TIMEOUT)
    await expect(state).to_have_attribute("data-state", "waiting")

    alex = node.add_participant("Alex Kim")
    await expect(state).to_have_text("In meeting with 1 other person", timeout=TIMEOUT)
    await expect(state).to_have_attribute("data-state", "in-meeting")
    roster = page.locator("#mb-participant-list")
    await expect(roster).to_contain_text("Alex Kim")
    await expect(page.locator("#mb-participant-count")).to_have_text("2")

    await context.set_offline(True)
    await expect(state).to_have_text("Reconnecting…")
    await expect(state).to_have_attribute("data-state", "reconnecting")
    await context.set_offline(False)
    # Going offline before the media call was set up loses the call: the page then rejoins.
    await expect(state).to_have_text("In meeting with 1 other person", timeout=TIMEOUT)

    node.remove_participant(alex)
    await expect(state).to_have_text("Waiting for others to join", timeout=TIMEOUT)
    await expect(roster).not_to_contain_text("Alex Kim")

    node.disconnect_everyone()
    await expect(state).to_have_text("Meeting ended", timeout=TIMEOUT)
    await expect(state).to_have_attribute("data-state", "ended")
    await expect(page.get_by_role("alert")).to_contain_text("The meeting has ended.")
    await expect(page.get_by_role("button", name="Rejoin")).to_be_visible()
    await expect(page.get_by_role("button", name="Leave meeting")).to_be_disabled()


async def test_going_offline_while_the_media_call_is_set_up_reconnects_and_rejoins(
    page: Page, context: BrowserContext, served: Served, node: ConferencingNode
) -> None:
    """The SDK ends the whole call when its WebRTC ``calls``/``ack`` request fails. A network blip
    during media set-up used to show "Could not join the meeting"; the page must show
    "Reconnecting…" and rejoin by itself once the network is back, leaving no ghost behind."""
    node.calls_delay = 2.0  # the media call is still being set up when the network drops
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    state = page.locator("#mb-status")
    await expect(state).to_have_text("Waiting for others to join", timeout=TIMEOUT)
    await node.wait_for("/calls")

    async with page.expect_event(
        "console", lambda message: re.search(r"'(ack|call)' threw", message.text) is not None
    ):
        await context.set_offline(True)
    await expect(state).to_have_text("Reconnecting…")
    await expect(state).to_have_attribute("data-state", "reconnecting")
    await expect(page.get_by_role("alert")).to_be_hidden()

    node.calls_delay = 0.0
    await context.set_offline(False)
    await expect(state).to_have_text("Waiting for others to join", timeout=TIMEOUT)
    assert len(node.requests_to("request_token")) == 2
    assert len(node.requests_to("release_token")) == 1
    assert len(node.participants) == 1  # the lost call's participant was released


async def test_a_lost_call_whose_node_stays_away_ends_in_a_failure_with_retry(
    page: Page, context: BrowserContext, served: Served, node: ConferencingNode
) -> None:
    """Rejoining by itself is bounded: with the network back but the node gone, the page says
    why after a few rejoins, and Retry works once the node is back."""
    node.calls_delay = 2.0
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    state = page.locator("#mb-status")
    await expect(state).to_have_text("Waiting for others to join", timeout=TIMEOUT)
    await node.wait_for("/calls")
    async with page.expect_event(
        "console", lambda message: re.search(r"'(ack|call)' threw", message.text) is not None
    ):
        await context.set_offline(True)
    await expect(state).to_have_text("Reconnecting…")
    await node.stop()
    await context.set_offline(False)
    await expect(state).to_have_text("Could not join the meeting", timeout=20_000)
    await expect(page.get_by_role("alert")).to_contain_text("cannot be reached")
    retry = page.get_by_role("button", name="Retry")
    await expect(retry).to_be_focused()
    # The automatic rejoins found the node gone: only the first request_token reached it.
    assert len(node.requests_to("request_token")) == 1

    node.calls_delay = 0.0
    await node.start()
    await retry.click()
    await joined(page)
    # The call lost at first is released before the new one joins: no ghost participant.
    assert len(node.requests_to("release_token")) == 1
    assert len(node.participants) == 1


async def test_waiting_for_the_host(page: Page, served: Served, node: ConferencingNode) -> None:
    node.waiting_for_host = True
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await expect(page.locator("#mb-status")).to_have_text(
        "Waiting for the host to start the meeting", timeout=TIMEOUT
    )


async def test_leaving_releases_the_token_and_rejoin_joins_again(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)
    await node.wait_for("/calls")

    await page.get_by_role("button", name="Leave meeting").click()
    await expect(page.locator("#mb-status")).to_have_text("Meeting ended: you left")
    await node.wait_for("release_token")
    await expect(page.get_by_role("alert")).to_contain_text("You left the meeting.")

    await page.get_by_role("button", name="Rejoin").click()
    await joined(page)
    assert len(node.requests_to("request_token")) == 2


async def test_a_presentation_is_received_toggled_and_popped_out(
    page: Page, context: BrowserContext, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)
    alex = node.add_participant("Alex Kim")
    await expect(page.locator("#mb-status")).to_have_attribute("data-state", "in-meeting")

    node.start_presentation(alex)
    stage = page.locator("#mb-stage")
    # Shown without anyone asking, in the main area, with people as the top-right thumbnail.
    await expect(page.locator("#mb-presentation-slot")).to_be_visible(timeout=TIMEOUT)
    await expect(page.locator("#mb-presenter")).to_have_text("Alex Kim is presenting")
    await expect(stage).to_have_attribute("data-main", "presentation")
    swap = page.get_by_role("button", name="Show presentation in the main area")
    await expect(swap).to_be_enabled()
    await expect(swap).to_have_attribute("aria-pressed", "true")

    thumbnail = page.get_by_role("button", name="Show people in the main area")
    await thumbnail.click()
    await expect(stage).to_have_attribute("data-main", "people")
    await expect(swap).to_have_attribute("aria-pressed", "false")
    await swap.click()
    await expect(stage).to_have_attribute("data-main", "presentation")

    pop_out = page.get_by_role("button", name="Pop out presentation")
    await expect(pop_out).to_be_enabled()
    async with context.expect_page() as popup_info:
        await pop_out.click()
    popup = await popup_info.value
    await expect(popup.locator("video")).to_have_count(1)
    await expect(pop_out).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#mb-presentation-slot")).to_be_hidden()
    await popup.close()
    await expect(pop_out).to_have_attribute("aria-pressed", "false")
    await expect(page.locator("#mb-presentation-slot")).to_be_visible()

    node.stop_presentation(alex)
    await expect(page.locator("#mb-presentation-slot")).to_be_hidden(timeout=TIMEOUT)
    await expect(stage).to_have_attribute("data-main", "people")
    await expect(swap).to_be_disabled()


async def test_sharing_the_screen_takes_and_releases_the_floor(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)
    await node.wait_for("/calls")

    share = page.locator("#mb-share")
    await expect(share).to_have_accessible_name("Share screen")
    await share.click()  # Chromium's fake capture UI picks a screen without asking
    await expect(share).to_have_accessible_name("Stop sharing")
    await node.wait_for("/take_floor")
    # A presentation of our own does not take the main area.
    await expect(page.locator("#mb-stage")).to_have_attribute("data-main", "people")

    await share.click()
    await expect(share).to_have_accessible_name("Share screen")
    await node.wait_for("/release_floor")


async def test_background_blur_and_replacement_run_from_our_own_files(
    page: Page, context: BrowserContext, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    effect_files: dict[str, int] = {}

    async def record(response: Response) -> None:
        if "/effects/" in response.url:
            effect_files[response.url] = response.status

    context.on("response", record)
    await page.goto(url)
    await joined(page)
    await page.get_by_role("button", name="Devices and effects").click()

    message = page.locator("#mb-effects-message")
    for name, applied in (
        ("Background blur", "Background blur is on."),
        ("Background replacement", "Background replacement is on."),
    ):
        await page.get_by_role("button", name=name).click()
        await expect(message).to_have_text(applied, timeout=30_000)
        await expect(page.get_by_role("button", name=name)).to_have_attribute(
            "aria-pressed", "true"
        )
        # The camera preview now shows the processed track.
        assert await page.evaluate(
            "() => document.querySelector('#mb-self-view').srcObject.getVideoTracks()[0]"
            ".readyState === 'live'"
        )
    await page.get_by_role("button", name="No effect").click()
    await expect(page.get_by_role("button", name="No effect")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(message).to_have_text("")

    # The worker, MediaPipe's wasm and the model all came from meetbridge's origin.
    base = f"{served.url}/static/meeting/effects/"
    assert effect_files, "no effects file was fetched"
    assert all(url.startswith(base) and status == 200 for url, status in effect_files.items())
    fetched = {url.removeprefix(base) for url in effect_files}
    assert "mediaWorker.js" in fetched
    assert "models/selfie_segmentation_landscape.tflite" in fetched
    assert any(name.startswith("wasm/vision_wasm") for name in fetched)


async def test_the_pexip_page_has_no_serious_accessibility_violations(
    page: Page, served: Served, node: ConferencingNode
) -> None:
    await node.start()
    url, _ = await meeting_link(served, node)
    await page.goto(url)
    await joined(page)
    await expect(page.get_by_label("Camera", exact=True).locator("option")).not_to_have_count(0)
    assert await serious_accessibility_violations(page) == []

    # With the settings open, and once the meeting has ended (the problem panel shows).
    await page.get_by_role("button", name="Devices and effects").click()
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("button", name="Leave meeting").click()
    await expect(page.get_by_role("button", name="Rejoin")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
