"""The Pexip meeting page with a host and a guest, in headless Chromium, against the simulated
Conferencing Node (roles by PIN, host actions refused to guests) and a real meetbridge whose
event sink is fed as the node would feed it.

The host's page shows host controls and its actions reach Infinity as client-API requests made
by meetbridge's chair session; the guest's page shows none, and a raised hand is Infinity's buzz.
Screenshots of both pages are left in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from meetbridge.domain.aliases import alias_for_channel, service_tag_for_channel
from meetbridge.domain.ids import ChannelId
from tests.browser.conftest import ARTIFACTS, Served
from tests.browser.meeting_support import build_meeting_assets
from tests.browser.test_meeting_page import joined, make_member
from tests.support.conferencing_node import ConferencingNode, policy_over_http
from tests.support.infinity import InfinityNode, basic_auth

TIMEOUT = 15_000


@pytest.fixture(scope="session")
def meeting_assets() -> Any:
    return build_meeting_assets()


pytestmark = pytest.mark.usefixtures("meeting_assets")


@pytest.fixture
async def node(served: Served) -> AsyncIterator[ConferencingNode]:
    simulated = ConferencingNode()
    await simulated.start()
    served.pexip_transport.inner = httpx2.AsyncHTTPTransport(verify=simulated.ssl_context())
    yield simulated
    await simulated.stop()
    simulated.close()


@dataclass
class PexipMeeting:
    served: Served
    node: ConferencingNode
    browser: Browser
    channel: str
    sink: InfinityNode
    contexts: list[BrowserContext] = field(default_factory=list)

    @property
    def alias(self) -> str:
        return alias_for_channel("matt-", ChannelId(self.channel))

    async def open(self, username: str, first: str, last: str) -> tuple[Page, str]:
        """A member's page joined the meeting, and the node's participant uuid for it."""
        user = self.served.mattermost.add_user(username, first=first, last=last)
        await make_member(self.served, self.channel, user)
        context = await self.browser.new_context(
            ignore_https_errors=True,
            permissions=["camera", "microphone"],
            viewport={"width": 1280, "height": 800},
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.on("console", lambda message: print(f"[{username} console] {message.text}"))
        await page.goto(await self.served.join_link(self.channel, user))
        await joined(page)
        name = f"{first} {last}"
        [uuid] = [p.uuid for p in self.node.participants.values() if p.display_name == name]
        [token] = [
            r for r in self.node.requests_to("request_token") if r.body.get("display_name") == name
        ]
        await self.report(
            self.sink.participant_connected(
                self.alias,
                service_tag_for_channel(ChannelId(self.channel)),
                uuid=uuid,
                display_name=name,
                role=self.node.participants[uuid].role,
                call_tag=str(token.body["call_tag"]),
            )
        )
        return page, uuid

    async def report(self, *envelopes: dict[str, Any]) -> None:
        credentials = self.served.components.state.credentials
        assert credentials is not None
        async with httpx2.AsyncClient() as http:
            for envelope in envelopes:
                answer = await http.post(
                    f"{self.served.url}/api/pexip/event_sink",
                    json=envelope,
                    headers=basic_auth(credentials.username, credentials.password),
                )
                assert answer.status_code == 200, answer.text
        await self.served.components.applier.drain()
        await self.served.components.pexip_controls.settle()


@pytest.fixture
async def meeting(
    served: Served, node: ConferencingNode, browser: Browser
) -> AsyncIterator[PexipMeeting]:
    channel = served.mattermost.add_channel("Design Review", "O")
    await served.setting("embedded_experience", True)
    await served.setting("pexip_node", node.address)
    await served.setting("default_engine", "pexip")
    await served.setting("display_name", "full_name")
    credentials = served.components.state.credentials
    assert credentials is not None  # the node asks meetbridge's policy server, as Infinity does
    node.policy = policy_over_http(
        f"{served.url}/api/pexip", basic_auth(credentials.username, credentials.password)
    )
    sink = InfinityNode("10.20.0.11")
    running = PexipMeeting(served, node, browser, channel, sink)
    await running.report(sink.sink_started())
    yield running
    for context in running.contexts:
        await context.close()


async def test_the_host_page_has_host_controls_and_mutes_a_guest_through_infinity(
    meeting: PexipMeeting,
) -> None:
    dana, dana_uuid = await meeting.open("dana", "Dana", "Reyes")
    bob, bob_uuid = await meeting.open("bob", "Bob", "Lee")
    assert meeting.node.participants[dana_uuid].role == "chair"
    assert meeting.node.participants[bob_uuid].role == "guest"

    await expect(dana.get_by_role("heading", name="Host controls")).to_be_visible(timeout=TIMEOUT)
    await expect(bob.get_by_role("heading", name="Host controls")).to_be_hidden()
    # meetbridge's chair session (no media) is not in anyone's roster.
    for page in (dana, bob):
        await expect(page.locator("#mb-participant-list")).not_to_contain_text("meetbridge")
    # Reactions are not offered on Pexip; chat is Infinity's conference messages.
    await expect(bob.get_by_role("button", name="React: Thumbs up")).to_be_hidden()

    # The guest raises a hand: Infinity's buzz, shown to the host, who lowers it.
    await bob.get_by_role("button", name="Raise hand").click()
    await expect(dana.locator("#mb-hand-list")).to_contain_text("Bob Lee", timeout=TIMEOUT)
    assert (f"participants/{bob_uuid}/buzz", "chair", 200) in meeting.node.actions

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await dana.screenshot(path=str(ARTIFACTS / "pexip-host-page-as-host.png"), full_page=True)
    await bob.screenshot(path=str(ARTIFACTS / "pexip-host-page-as-guest.png"), full_page=True)

    menu = dana.get_by_role("button", name="Actions for Bob Lee")
    actions = dana.get_by_role("group", name="Host actions for Bob Lee")
    await menu.click()
    await actions.get_by_role("button", name="Lower hand").click()
    await expect(dana.locator("#mb-hands-empty")).to_be_visible(timeout=TIMEOUT)

    # Bob unmutes; the host mutes him: a client-API request by meetbridge's chair session.
    await bob.get_by_role("button", name="Unmute microphone").click()
    await expect(bob.get_by_role("button", name="Mute microphone")).to_be_visible()
    await menu.click()
    await actions.get_by_role("button", name="Mute", exact=True).click()
    await expect(bob.get_by_role("button", name="Unmute microphone")).to_be_visible(timeout=TIMEOUT)
    assert (f"participants/{bob_uuid}/mute", "chair", 200) in meeting.node.actions

    await menu.click()
    await actions.get_by_role("button", name="Ask to unmute").click()
    await expect(bob.locator("#mb-notice")).to_have_text(
        "The host asks you to unmute.", timeout=TIMEOUT
    )


async def test_chat_is_infinitys_conference_messages_mirrored_with_the_thread(
    meeting: PexipMeeting,
) -> None:
    dana, _ = await meeting.open("dana", "Dana", "Reyes")
    bob, _ = await meeting.open("bob", "Bob", "Lee")
    await bob.get_by_role("button", name="Chat").click()
    await expect(bob.get_by_role("textbox", name="Message")).to_be_focused()
    await bob.keyboard.type("See you at ten")
    await bob.keyboard.press("Enter")
    [sent] = await meeting.node.wait_for("message")
    assert sent.endpoint == "message" and sent.body["payload"] == "See you at ten"
    await expect(dana.locator("#mb-chat-log")).to_contain_text("See you at ten", timeout=TIMEOUT)
    await expect(bob.locator("#mb-chat-log .mb-chat-line")).to_have_count(1)  # once, not echoed

    # A reply in the meeting card's thread reaches the meeting, under its author's name.
    chat = meeting.served.components.pexip_controls.chat
    assert chat is not None
    await chat.from_thread(ChannelId(meeting.channel), "Carol", "Agreed", "mm-1", 0)
    line = dana.locator("#mb-chat-log .mb-chat-line").filter(has_text="Agreed")
    await expect(line).to_contain_text("Carol", timeout=TIMEOUT)
    await expect(line).not_to_contain_text("meetbridge")


async def test_a_guest_page_shows_no_host_controls_and_its_forged_host_action_is_refused(
    meeting: PexipMeeting,
) -> None:
    _, dana_uuid = await meeting.open("dana", "Dana", "Reyes")
    bob, _ = await meeting.open("bob", "Bob", "Lee")
    await expect(bob.get_by_role("heading", name="Host controls")).to_be_hidden()
    await expect(bob.get_by_role("button", name="Actions for Dana Reyes")).to_have_count(0)
    # The page's own control token, used by hand: meetbridge refuses a guest's host action.
    status = await bob.evaluate(
        """async (identity) => {
            const config = JSON.parse(document.getElementById('meetbridge-config').textContent);
            const answer = await fetch(config.controls.url + '/remove', {
                method: 'POST', credentials: 'omit',
                headers: {'Content-Type': 'application/json',
                          Authorization: 'Bearer ' + config.controls.token},
                body: JSON.stringify({identity}),
            });
            return answer.status;
        }""",
        dana_uuid,
    )
    assert status == 403
    assert dana_uuid in meeting.node.participants
    assert all(not action[0].endswith("/disconnect") for action in meeting.node.actions)
