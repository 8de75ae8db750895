"""/meet in a channel on the LiveKit engine, with the real Mattermost and a real livekit-server
configured from the deployment's environment (MEETBRIDGE_LIVEKIT_*): the reply carries a
personal join link, and the page it opens for its user is the LiveKit meeting page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.live import LiveMeetbridge, start_live, stop_live
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.livekit import LiveKitServer

pytestmark = pytest.mark.mattermost


@pytest.fixture
async def live(
    mattermost: MattermostWorld, tmp_path: Path, livekit_server: LiveKitServer
) -> AsyncIterator[LiveMeetbridge]:
    running, server, task = await start_live(
        mattermost,
        tmp_path,
        livekit_url=livekit_server.ws_url,
        livekit_api_key=livekit_server.api_key.key,
        livekit_api_secret=livekit_server.api_key.secret,
    )
    yield running
    await stop_live(running, server, task)


def page_config(html: str) -> dict[str, object]:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config: dict[str, object] = json.loads(html[start : html.index("</script>", start)])
    return config


async def test_meet_start_in_a_livekit_channel_leads_its_user_to_the_livekit_page(
    live: LiveMeetbridge, mattermost: MattermostWorld, livekit_server: LiveKitServer
) -> None:
    alice, erin = mattermost.users["alice"], mattermost.users["erin"]
    chosen = await live.meet(mattermost.admin, "private", "engine livekit")
    assert chosen["text"] == "Meetings in this channel now use LiveKit."

    answer = await live.meet(alice, "private", "start Roadmap")
    link = answer["goto_location"]
    assert link.startswith(f"{live.url}/join/")

    forged = await live.open_link_as(link, erin)  # someone else's browser: nothing revealed
    assert forged.status_code == 403 and "meetbridge-config" not in forged.text

    page = await live.open_link_as(link, alice)
    assert page.status_code == 200, page.text
    config = page_config(page.text)
    assert config["engine"] == "livekit" and config["role"] == "host"
    livekit = config["livekit"]
    assert isinstance(livekit, dict) and livekit["url"] == livekit_server.ws_url
    assert livekit["token"] and livekit["token"] not in str(answer)  # never in Mattermost
    assert str(config["identity"]).startswith(f"{alice.id}.")
    assert config["startMuted"] is True and config["webapp3Url"] == ""
