"""/meet, meeting cards, join links: real users on the real Mattermost server, Infinity simulated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld

pytestmark = pytest.mark.mattermost


async def bot_posts(live: LiveMeetbridge, channel: str) -> list[dict[str, Any]]:
    async with live.world.client(live.world.admin) as api:
        listing = (
            await api.get(
                f"/channels/{live.world.channels.get(channel, channel)}/posts",
                params={"per_page": 50},
            )
        ).json()
    posts = [listing["posts"][pid] for pid in listing["order"]]
    # Only this test's meetbridge: channels are shared by the whole session.
    return [
        p for p in posts if p["user_id"] == live.world.bot.id and p["create_at"] >= live.since_ms
    ]


async def card_of(
    live: LiveMeetbridge, channel: str, meeting_status: str | None = None
) -> dict[str, Any] | None:
    for post in await bot_posts(live, channel):
        props = post.get("props") or {}
        if "meetbridge_meeting_id" in props and (
            meeting_status is None or props.get("meeting_status") == meeting_status
        ):
            return post
    return None


def fields(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for f in card["props"]["attachments"][0].get("fields", [])}


async def test_meet_is_registered_once_per_team(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    async with mattermost.client(mattermost.admin) as api:
        commands = (
            await api.get(
                "/commands", params={"team_id": mattermost.team_id, "custom_only": "true"}
            )
        ).json()
    meets = [c for c in commands if c["trigger"] == "meet"]
    assert len(meets) == 1
    assert meets[0]["url"] == f"{live.url}/api/mattermost/command"
    assert meets[0]["auto_complete"] is True


async def test_meet_takes_the_user_to_the_meeting_and_the_card_follows(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    answer = await live.meet(alice, "public", "start Sprint review")
    join_url = answer["goto_location"]
    assert join_url.startswith(f"{live.url}/join/")
    assert join_url in answer["text"]  # a clickable fallback
    joined = await live.join(join_url, "alice-1")
    assert joined.name == "alice" and joined.alias == f"matt-{mattermost.channels['public']}"
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    assert card["message"] == "alice started a video meeting: Sprint review."
    assert fields(card)["Started by"] == "alice"
    assert fields(card)["Engine"] == "Pexip Infinity"
    assert fields(card)["In the meeting (1)"] == "alice"
    actions = card["props"]["attachments"][0]["actions"]
    # End is offered on every card of an engine that can end a meeting for all; only the
    # meeting's host (or an admin) gets past its confirmation (test_pexip_meeting_with_mattermost).
    assert [a["name"] for a in actions] == ["Join", "Leave", "End"]

    clicked = await live.click(bob, card["id"], "join")
    assert clicked.status_code == 200, clicked.text
    bob_link = await live.link_for("public", bob)  # what the click led to
    bob_joined = await live.join(bob_link, "bob-1")
    await live.settle()
    card = await eventually(lambda: _has(card_of(live, "public", "STARTED"), "In the meeting (2)"))
    assert fields(card)["In the meeting (2)"] == "alice, bob"

    await live.leave(bob_joined)
    await live.leave(joined)
    await live.end(joined.alias)
    await live.settle()
    ended = await eventually(lambda: card_of(live, "public", "ENDED"))
    assert ended["id"] == card["id"], "the card is updated, not posted again"
    assert ended["message"].startswith("Video meeting ended: Sprint review. It lasted")
    assert fields(ended)["Attended by (2)"] == "alice, bob"
    assert "actions" not in ended["props"]["attachments"][0]
    posts = await bot_posts(live, "public")
    assert (
        sum(
            1
            for p in posts
            if p["props"].get("meetbridge_meeting_id") == ended["props"]["meetbridge_meeting_id"]
        )
        == 1
    )
    assert joined.pin not in str(posts), "the PIN never appears in a Mattermost post"


async def _has(card_future: Any, title: str) -> dict[str, Any] | None:
    card = await card_future
    return card if card is not None and title in fields(card) else None
