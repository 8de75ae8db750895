"""One LiveKit meeting, end to end, with every part real: the Mattermost server, meetbridge
(its LiveKit engine, webhooks and control API), a livekit-server whose webhooks reach that
meetbridge, and Chromium pages (fake camera and microphone) that users reach as they do: /meet
in Mattermost, their personal join link, Mattermost's OAuth sign-in, the meeting page.

Everything the pages do goes through their own buttons and meetbridge's control API. The tests
share one meeting and run in order (each picks up where the previous one left it): starting a
meeting with three browsers costs far more than any one assertion.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import text

from meetbridge.store import meetings_repo
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.browser.meeting_support import (
    RECORD_PEER_CONNECTIONS,
    build_meeting_assets,
    inbound_bytes,
    media_flows,
)
from tests.browser.meeting_support import eventually as page_eventually
from tests.e2e.live import LiveMeetbridge, eventually, live_on_own_livekit
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.support.livekit import LiveKitServer
from tests.support.requirements import require

pytestmark = [pytest.mark.mattermost, pytest.mark.asyncio(loop_scope="module")]

CHANNEL = "private"  # alice, bob and carol (a channel: pages start muted)
TIMEOUT = 30_000  # ms: a join loads livekit-client and negotiates WebRTC on a busy machine


@dataclass
class Stack:
    live: LiveMeetbridge
    livekit: LiveKitServer
    world: MattermostWorld
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)  # by username
    card_ids: list[str] = field(default_factory=list)  # each meeting's card, oldest first

    def user(self, name: str) -> Account:
        return self.world.users[name]

    async def open_meeting_page(self, name: str, link: str) -> Page:
        """``name``'s own browser, signed in to Mattermost, opens their join link."""
        context = await self.browser.new_context(
            permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
        )
        self.contexts.append(context)
        # Signed in to Mattermost: its session cookie, as Mattermost's web app leaves it.
        await context.add_cookies(
            [{"name": "MMAUTHTOKEN", "value": self.user(name).token, "url": self.world.url}]
        )
        page = await context.new_page()
        page.on("pageerror", lambda error: print(f"[{name} pageerror] {error}"))
        await page.add_init_script(RECORD_PEER_CONNECTIONS)
        await page.goto(link)
        self.pages[name] = page
        return page

    async def card(self, status: str | None = None) -> dict[str, Any] | None:
        """The newest meeting card this meetbridge posted in the channel (with that status)."""
        async with self.world.client(self.world.admin) as api:
            listing = (
                await api.get(
                    f"/channels/{self.world.channels[CHANNEL]}/posts", params={"per_page": 30}
                )
            ).json()
        for post_id in listing["order"]:
            post = listing["posts"][post_id]
            props = post.get("props") or {}
            if (
                post["user_id"] == self.world.bot.id
                and post["create_at"] >= self.live.since_ms
                and "meetbridge_meeting_id" in props
                and (status is None or props.get("meeting_status") == status)
            ):
                return dict(post)
        return None

    async def roster_on_card(self) -> str:
        card = await self.card()
        if card is None:
            return ""
        fields = card["props"]["attachments"][0].get("fields", [])
        return next(
            (f"{f['title']}: {f['value']}" for f in fields if "In the meeting" in f["title"]), ""
        )

    async def roster_becomes(self, expected: str, timeout: float = 30.0) -> None:
        """Wait for the card's roster to read ``expected``; on failure say what meetbridge had."""
        seen = ""

        async def matches() -> bool:
            nonlocal seen
            seen = await self.roster_on_card()
            return seen == expected

        try:
            await eventually(matches, timeout=timeout)
        except AssertionError:
            raise AssertionError(
                f"card roster {seen!r}, expected {expected!r}\n{await self.diagnosis()}"
            ) from None

    async def diagnosis(self) -> str:
        """What meetbridge received from LiveKit and what it holds, for a failure message."""
        async with self.live.components.core.database.read() as conn:
            events = await conn.execute(
                text("SELECT id, event, outcome, error, body FROM inbox WHERE source = 'livekit'")
            )
            lines = ["LiveKit events:"]
            for row in events:
                participant = json.loads(row.body).get("participant") or {}
                lines.append(
                    f"  {row.id} {row.event} {participant.get('identity', '')}"
                    f" {participant.get('sid', '')} -> {row.outcome} {row.error or ''}"
                )
            lines.append("meetings:")
            lines += [
                f"  {meeting.conference} legs: "
                + ", ".join(
                    f"{leg.display_name} at {leg.joined_at}" for leg in meeting.legs.values()
                )
                for meeting in await meetings_repo.in_progress(conn)
            ]
            lines.append("outbox:")
            outbox = "SELECT id, kind, status, attempts, last_error FROM outbox ORDER BY id"
            lines += [
                f"  {row.id} {row.kind} {row.status} {row.attempts} {row.last_error}"
                for row in await conn.execute(text(outbox))
            ]
        return "\n".join(lines)

    async def screenshots(self, test_name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name, page in self.pages.items():
            if not page.is_closed():
                path = ARTIFACTS / f"full_stack-{test_name}-{name}.png"
                await page.screenshot(path=str(path), full_page=True)


@pytest.fixture(scope="module")
def meeting_assets() -> Path:
    return build_meeting_assets()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    mattermost: MattermostWorld,
    livekit_binary: Path,
    meeting_assets: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    executable = chromium_path()
    require(executable is not None, "Chromium (Debian package chromium)")
    data = tmp_path_factory.mktemp("full-stack")
    async with (
        live_on_own_livekit(mattermost, livekit_binary, data) as (live, livekit),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        running = Stack(live, livekit, mattermost, browser)
        yield running
        for context in running.contexts:
            await context.close()
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def screenshots(stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    await stack.screenshots(request.node.name)


async def in_meeting_with(page: Page, others: int) -> None:
    expected = "1 other person" if others == 1 else f"{others} other people"
    await expect(page.locator("#mb-status")).to_have_text(
        f"In meeting with {expected}", timeout=TIMEOUT
    )


async def page_config(page: Page) -> dict[str, Any]:
    text = await page.locator("#meetbridge-config").text_content()
    assert text
    config: dict[str, Any] = json.loads(text)
    return config


async def unmute(page: Page) -> None:
    await expect(page.locator("#mb-mic")).to_have_accessible_name("Unmute microphone")
    await page.locator("#mb-mic").click()
    await expect(page.locator("#mb-mic")).to_have_accessible_name("Mute microphone")


# ------------------------------------------------------------------------------------------------


async def test_users_reach_the_meeting_from_meet_through_mattermost_sign_in_and_media_flows(
    stack: Stack,
) -> None:
    started = await stack.live.meet(stack.user("alice"), CHANNEL, "start Full stack")
    alice = await stack.open_meeting_page("alice", started["goto_location"])
    # Alice is in before Bob comes, so the card lists them in that order.
    await expect(alice.locator("#mb-status")).to_have_text(
        "Waiting for others to join", timeout=TIMEOUT
    )
    joined = await stack.live.meet(stack.user("bob"), CHANNEL, "join")
    bob = await stack.open_meeting_page("bob", joined["goto_location"])
    for page in (alice, bob):
        await in_meeting_with(page, 1)
    assert (await page_config(alice))["role"] == "host"
    assert (await page_config(bob))["role"] == "participant"
    # A channel meeting starts muted: each unmutes with their own button, then both hear and
    # see each other.
    for page in (alice, bob):
        await unmute(page)
    await expect(alice.locator(".mb-tile figcaption")).to_have_text(["bob"], timeout=TIMEOUT)
    await expect(bob.locator(".mb-tile figcaption")).to_have_text(["alice"], timeout=TIMEOUT)
    for page in (alice, bob):
        await media_flows(page, ("audio", "video"), timeout=30)

    # Alice shares her screen: Bob receives it as a second video stream.
    await alice.locator("#mb-share").click()
    await expect(bob.locator("#mb-presenter")).to_have_text("alice is presenting", timeout=TIMEOUT)

    async def two_video_streams() -> bool:
        return (await inbound_bytes(bob))["videoStreams"] >= 2

    await page_eventually(two_video_streams, 30, "Bob receiving Alice's camera and screen")
    await alice.locator("#mb-share").click()
    await expect(bob.locator("#mb-presentation-slot")).to_be_hidden(timeout=TIMEOUT)

    # The card in Mattermost follows, from LiveKit's webhooks.
    await stack.roster_becomes("In the meeting (2): alice, bob")
    card = await stack.card("STARTED")
    assert card is not None
    stack.card_ids.append(card["id"])


async def test_the_host_mutes_a_participant_from_the_host_menu_and_their_page_shows_it(
    stack: Stack,
) -> None:
    alice, bob = stack.pages["alice"], stack.pages["bob"]
    await expect(bob.locator("#mb-mic")).to_have_accessible_name("Mute microphone")
    await alice.get_by_role("button", name="Actions for bob").click()
    await (
        alice.get_by_role("group", name="Host actions for bob")
        .get_by_role("button", name="Mute", exact=True)
        .click()
    )
    await expect(bob.locator("#mb-mic")).to_have_accessible_name(
        "Unmute microphone", timeout=TIMEOUT
    )
    await expect(bob.locator("#mb-notice")).to_have_text("You were muted by the host.")
    await expect(alice.locator("#mb-participant-list li", has_text="bob")).to_contain_text(
        "muted", timeout=TIMEOUT
    )


async def test_a_raised_hand_and_a_reaction_from_one_page_reach_the_other(stack: Stack) -> None:
    alice, bob = stack.pages["alice"], stack.pages["bob"]
    await bob.get_by_role("button", name="Raise hand").click()
    await expect(alice.locator("#mb-hand-list li")).to_have_count(1, timeout=TIMEOUT)
    await expect(alice.locator("#mb-hand-list li")).to_contain_text("bob")
    await expect(alice.locator("#mb-announce")).to_contain_text("bob raised their hand")
    await expect(bob.get_by_role("button", name="Lower hand")).to_be_visible()

    await bob.get_by_role("button", name="React: Thumbs up").click()
    await expect(alice.locator("#mb-reaction-stream")).to_contain_text("👍 bob", timeout=TIMEOUT)

    await bob.get_by_role("button", name="Lower hand").click()
    await expect(alice.locator("#mb-hand-list li")).to_have_count(0, timeout=TIMEOUT)


async def test_chat_goes_from_the_page_to_the_cards_thread_and_back_under_the_right_names(
    stack: Stack,
) -> None:
    alice, bob = stack.pages["alice"], stack.pages["bob"]
    card = stack.card_ids[0]
    await bob.get_by_role("button", name="Chat").click()
    await bob.get_by_role("textbox", name="Message").fill("Shipping on Friday?")
    await bob.keyboard.press("Enter")

    async def in_thread() -> list[str]:
        async with stack.world.client(stack.user("carol")) as api:
            thread = (await api.get(f"/posts/{card}/thread")).json()
        return [p["message"] for p in thread["posts"].values() if p.get("root_id") == card]

    async def line_in_thread() -> bool:
        return "**bob** (in the meeting): Shipping on Friday?" in await in_thread()

    await eventually(line_in_thread, timeout=20)
    await expect(alice.locator("#mb-chat-log")).to_contain_text("Shipping on Friday?")

    # Carol is not in the meeting: she answers in the thread, and both pages show it as hers.
    async with stack.world.client(stack.user("carol")) as api:
        posted = await api.post(
            "/posts",
            json={
                "channel_id": stack.world.channels[CHANNEL],
                "root_id": card,
                "message": "Friday <b>works</b>",
            },
        )
        assert posted.status_code == 201, posted.text
    for page in (alice, bob):
        line = page.locator("#mb-chat-log .mb-chat-line", has_text="Friday <b>works</b>")
        await expect(line).to_contain_text("carol", timeout=TIMEOUT)  # shown as text, escaped
    await expect(alice.locator("#mb-chat-log b")).to_have_count(0)


async def test_a_non_hosts_forged_host_actions_are_refused_by_meetbridge_and_change_nothing(
    stack: Stack,
) -> None:
    alice, bob = stack.pages["alice"], stack.pages["bob"]
    alice_identity = (await page_config(alice))["identity"]
    await expect(bob.get_by_role("heading", name="Host controls")).to_be_hidden()
    # Bob's own page config holds his control token: he posts host actions with it himself.
    forged = await bob.evaluate(
        """async ({identity}) => {
            const config = JSON.parse(document.getElementById('meetbridge-config').textContent);
            const answers = {};
            for (const [action, body] of [
                ['remove', {identity}], ['mute', {identity}], ['make-host', {identity: config.identity}],
                ['end', {}],
            ]) {
                const response = await fetch(`${config.controls.url}/${action}`, {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json',
                              Authorization: `Bearer ${config.controls.token}`},
                    body: JSON.stringify(body),
                    credentials: 'omit',
                });
                answers[action] = [response.status, (await response.json()).error];
            }
            return answers;
        }""",
        {"identity": alice_identity},
    )
    refused = [403, "Only the meeting's host can do this."]
    assert forged == {"remove": refused, "mute": refused, "make-host": refused, "end": refused}
    # Nothing changed: both still in the meeting, Alice unmuted and host, Bob not host.
    await in_meeting_with(alice, 1)
    await in_meeting_with(bob, 1)
    await expect(alice.locator("#mb-mic")).to_have_accessible_name("Mute microphone")
    await expect(alice.get_by_role("heading", name="Host controls")).to_be_visible()
    await expect(bob.get_by_role("heading", name="Host controls")).to_be_hidden()
    assert await stack.card("STARTED") is not None


FIGURES = re.compile(
    r"sending ([\d,.]+) kbit/s, receiving ([\d,.]+) kbit/s, packet loss ([\d.]+) %, "
    r"round-trip time ([\d,.]+) ms"
)


async def test_the_pages_connection_report_reaches_meet_stats(stack: Stack) -> None:
    async def stats_of_alice() -> re.Match[str] | None:
        answer = await stack.live.meet(stack.user("alice"), CHANNEL, "stats")
        return FIGURES.search(answer["text"])

    # The page reports every 10 s while in the meeting.
    figures = await eventually(stats_of_alice, timeout=30, every=1.0)
    send, receive, loss, rtt = (float(value.replace(",", "")) for value in figures.groups())
    assert send > 20 and receive > 20, figures.group(0)  # audio and video both ways
    assert 0 <= loss <= 100 and 0 <= rtt < 1000, figures.group(0)


async def test_the_host_removes_a_participant_whose_page_says_so_and_the_card_drops_them(
    stack: Stack,
) -> None:
    alice = stack.pages["alice"]
    joined = await stack.live.meet(stack.user("carol"), CHANNEL, "join")
    carol = await stack.open_meeting_page("carol", joined["goto_location"])
    await in_meeting_with(carol, 2)

    await stack.roster_becomes("In the meeting (3): alice, bob, carol")

    await alice.get_by_role("button", name="Actions for carol").click()
    await (
        alice.get_by_role("group", name="Host actions for carol")
        .get_by_role("button", name="Remove from meeting")
        .click()
    )
    await expect(carol.get_by_role("alert")).to_contain_text(
        "You were removed from the meeting.", timeout=TIMEOUT
    )
    await expect(carol.locator("#mb-status")).to_have_attribute("data-state", "ended")
    await expect(carol.locator("#mb-retry")).to_be_hidden()
    await expect(alice.locator("#mb-participant-list")).not_to_contain_text(
        "carol", timeout=TIMEOUT
    )

    await stack.roster_becomes("In the meeting (2): alice, bob")


async def test_the_host_ends_the_meeting_for_everyone_and_the_card_turns_ended(
    stack: Stack,
) -> None:
    alice, bob = stack.pages["alice"], stack.pages["bob"]
    await alice.get_by_role("button", name="End meeting for all").click()
    for page in (alice, bob):
        await expect(page.locator("#mb-status")).to_have_attribute(
            "data-state", "ended", timeout=TIMEOUT
        )
        await expect(page.get_by_role("alert")).to_contain_text("The meeting has ended.")

    async def ended() -> dict[str, Any] | None:
        return await stack.card("ENDED")

    card = await eventually(ended, timeout=30)
    assert card["id"] == stack.card_ids[0], "the meeting's own card is updated"
    assert "actions" not in card["props"]["attachments"][0]


async def test_meet_end_ends_a_meeting_with_a_page_in_it_and_the_card_turns_ended(
    stack: Stack,
) -> None:
    started = await stack.live.meet(stack.user("alice"), CHANNEL, "start Second round")
    alice = await stack.open_meeting_page("alice", started["goto_location"])
    await expect(alice.locator("#mb-status")).to_have_attribute(
        "data-state", "waiting", timeout=TIMEOUT
    )

    async def new_card() -> dict[str, Any] | None:
        card = await stack.card("STARTED")
        return card if card is not None and card["id"] not in stack.card_ids else None

    card = await eventually(new_card, timeout=30)
    confirmed = await stack.live.meet_confirmed(stack.user("alice"), CHANNEL, "end")
    assert confirmed.status_code == 200, confirmed.text

    await expect(alice.locator("#mb-status")).to_have_attribute(
        "data-state", "ended", timeout=TIMEOUT
    )

    async def ended() -> dict[str, Any] | None:
        ended_card = await stack.card("ENDED")
        return ended_card if ended_card is not None and ended_card["id"] == card["id"] else None

    await eventually(ended, timeout=30)
