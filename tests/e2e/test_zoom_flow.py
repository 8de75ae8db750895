"""Zoom from Mattermost, end to end: a user connects, starts a meeting, the card appears, a
signed meeting.ended arrives and the card shows the duration; forged and replayed webhooks are
refused. Real Mattermost server; Zoom simulated over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom.service import PmiPreference
from meetbridge.store.tables import zoom_connections
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.test_meet_flows import bot_posts, fields
from tests.support.ports import free_port
from tests.support.zoom import ZoomSimulator, meeting_event, signed_webhook

pytestmark = pytest.mark.mattermost

SECRET_TOKEN = "zoom-secret-token"


@pytest.fixture
async def zoom_sim(mattermost: MattermostWorld) -> AsyncIterator[tuple[ZoomSimulator, str]]:
    simulator = ZoomSimulator()
    simulator.add_user("alice@example.com", pmi=5550001111)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(simulator.app, host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    simulator.join_base = f"http://127.0.0.1:{port}"  # meetbridge links only the Zoom host
    yield simulator, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def zoom_card(live: LiveMeetbridge, channel: str, status: str) -> dict[str, Any] | None:
    for post in await bot_posts(live, channel):
        if (
            post["props"].get("meeting_provider") == "Zoom"
            and post["props"].get("meeting_status") == status
        ):
            return post
    return None


async def test_zoom_meeting_from_connect_to_end(
    live: LiveMeetbridge, mattermost: MattermostWorld, zoom_sim: tuple[ZoomSimulator, str]
) -> None:
    simulator, zoom_url = zoom_sim
    for key, value in {
        "zoom_url": zoom_url,
        "zoom_api_url": f"{zoom_url}/v2",
        "zoom_client_id": "zoom-client",
    }.items():
        await live.setting(key, value)
    await live.components.admin.set_secret("zoom_client_secret", "zoom-secret", "test")
    await live.components.admin.set_secret("zoom_webhook_secret_token", SECRET_TOKEN, "test")
    await live.components.state.refresh()
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]

    refused = await live.meet(alice, "private", "engine zoom")
    assert "Only channel admins" in refused["text"]
    chosen = await live.meet_confirmed(mattermost.admin, "private", "engine zoom")
    assert chosen.status_code == 200, chosen.text
    assert (
        await live.components.engines.engine_for(ChannelId(mattermost.channels["private"]))
        == "zoom"
    )

    answer = await live.meet(alice, "private", "start Planning")
    assert "Connect your Zoom account" in answer["text"]
    connect_url = answer["text"].split("](", 1)[1].split(")", 1)[0]
    async with live.browser(alice) as browser:  # Mattermost confirms it is Alice, then Zoom
        page = await browser.get(connect_url, follow_redirects=True)
    assert page.status_code == 200 and "Join the Zoom meeting" in page.text
    assert simulator.created[-1]["topic"] == "Planning"

    await live.settle()
    card = await eventually(lambda: zoom_card(live, "private", "STARTED"))
    assert fields(card)["Engine"] == "Zoom" and fields(card)["Started by"] == "alice"
    meeting_id = fields(card)["Meeting ID"]
    assert card["props"]["meeting_link"] in card["props"]["attachments"][0]["text"]
    clicked = await live.click(bob, card["id"], "zoomjoin")
    assert clicked.status_code == 200
    again = await live.meet(alice, "private", "start Planning")  # moments later: that meeting
    personal = again["text"].split("](", 1)[1].split(")", 1)[0]
    assert personal.startswith(f"{live.url}/zoom/join/"), "a personal link, not Zoom's URL"
    to_zoom = await live.open_in(live.browser_of(alice), personal)
    assert to_zoom.headers["location"] == card["props"]["meeting_link"]
    assert (await live.open_link_as(personal, mattermost.users["erin"])).status_code == 403

    webhook = await live.components.zoom.webhook_url()
    for body, headers in (
        signed_webhook(
            "meeting.ended", meeting_event("meeting.ended", meeting_id), "forged-secret"
        ),
        signed_webhook(
            "meeting.ended",
            meeting_event("meeting.ended", meeting_id),
            SECRET_TOKEN,
            timestamp=1_500_000_000,
        ),
    ):
        assert (await live.http.post(webhook, content=body, headers=headers)).status_code == 401
    ended = meeting_event(
        "meeting.ended",
        meeting_id,
        start_time="2026-11-22T09:00:00Z",
        end_time="2026-11-22T09:25:00Z",
    )
    body, headers = signed_webhook("meeting.ended", ended, SECRET_TOKEN)
    assert (await live.http.post(webhook, content=body, headers=headers)).status_code == 200
    assert (
        await live.http.post(webhook, content=body, headers=headers)
    ).status_code == 401  # replayed
    await live.settle()
    done = await eventually(lambda: zoom_card(live, "private", "ENDED"))
    assert done["id"] == card["id"]
    assert "It lasted 25 minutes" in done["message"] and fields(done)["Duration"] == "25 minutes"

    async with live.dialogs_of(alice) as dialogs:  # the settings form is a dialog
        await live.meet(alice, "private", "settings")
        form = await dialogs.next()
    assert [e["name"] for e in form["dialog"]["elements"]] == ["pmi"]
    for wrong_choice in ("sometimes", ["new"], {"new": 1}, None):
        wrong = await live.submit_dialog(alice, form, "private", {"pmi": wrong_choice})
        assert wrong.status_code == 200 and "pmi" in wrong.json()["errors"], wrong.text
    saved = await live.submit_dialog(alice, form, "private", {"pmi": "new"})
    assert saved.status_code == 200, saved.text
    assert await live.components.zoom.pmi_preference(UserId(alice.id)) == PmiPreference.NEW

    assert await connections(live) == 1
    disconnected = await live.meet_confirmed(alice, "private", "disconnect")
    assert disconnected.status_code == 200, disconnected.text
    assert await connections(live) == 0


async def connections(live: LiveMeetbridge) -> int:
    async with live.components.core.database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(zoom_connections)) or 0)
