"""Ringing in direct and group messages, custom statuses, notifications off."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.e2e.test_meet_flows import bot_posts, card_of

pytestmark = pytest.mark.mattermost


async def ring_of(
    live: LiveMeetbridge, callee: Account, state: str | None = None
) -> dict[str, Any] | None:
    """The newest ringing message the bot sent this callee (in their direct channel with it)."""
    async with live.world.client(live.world.admin) as api:
        direct = (await api.post("/channels/direct", json=[live.world.bot.id, callee.id])).json()
    for post in await bot_posts(live, direct["id"]):
        if "meetbridge_ring_id" in post["props"] and (
            state is None or post["props"]["ring_state"] == state
        ):
            return post
    return None


async def custom_status(world: MattermostWorld, user: Account) -> str:
    async with world.client(world.admin) as api:
        props = (await api.get(f"/users/{user.id}")).json().get("props") or {}
    raw = props.get("customStatus")
    return orjson.loads(raw).get("text", "") if raw else ""


async def start_call(live: LiveMeetbridge, caller: Account, channel: str) -> Any:
    answer = await live.meet(caller, channel)
    joined = await live.join(
        answer["goto_location"], f"{caller.username}-{channel}-{live.since_ms}"
    )
    await live.settle()
    return joined


async def test_dm_rings_the_other_member_who_joins(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await start_call(live, alice, "dm")
    ring = await eventually(lambda: ring_of(live, bob, "ringing"))
    assert "**alice** is calling you" in ring["message"]
    assert [a["name"] for a in ring["props"]["attachments"][0]["actions"]] == ["Join", "Ignore"]
    assert await ring_of(live, alice) is None, "the caller is not rung"
    clicked = await live.click(bob, ring["id"], "ringjoin")
    assert clicked.status_code == 200, clicked.text
    link = await live.link_for("dm", bob)
    await live.join(link, f"bob-dm-{live.since_ms}")
    await live.settle()
    answered = await eventually(lambda: ring_of(live, bob, "answered"))
    assert answered["id"] == ring["id"]
    assert "You joined the call with **alice**" in answered["message"]
    assert "actions" not in answered["props"]["attachments"][0]


async def test_gm_ignore_and_timeout(live: LiveMeetbridge, mattermost: MattermostWorld) -> None:
    await live.setting("ringing_timeout", 2)
    alice, bob, carol = (
        mattermost.users["alice"],
        mattermost.users["bob"],
        mattermost.users["carol"],
    )
    await start_call(live, alice, "gm")
    bob_ring = await eventually(lambda: ring_of(live, bob, "ringing"))
    await eventually(lambda: ring_of(live, carol, "ringing"))
    assert (await live.click(bob, bob_ring["id"], "ringignore")).status_code == 200
    await live.settle()
    ignored = await eventually(lambda: ring_of(live, bob, "ignored"))
    assert "You ignored a call from **alice**" in ignored["message"]

    async def missed() -> Any:
        await live.settle()
        return await ring_of(live, carol, "missed")

    carol_missed = await eventually(missed, timeout=15)
    assert "Missed call from **alice**" in carol_missed["message"]
    # Bob's choice stands: a timeout does not turn "ignored" into "missed".
    assert await ring_of(live, bob, "ignored") is not None


async def test_someone_elses_ring_cannot_be_answered(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, bob, carol = (
        mattermost.users["alice"],
        mattermost.users["bob"],
        mattermost.users["carol"],
    )
    await start_call(live, alice, "dm")
    ring = await eventually(lambda: ring_of(live, bob, "ringing"))
    forged = await live.click(carol, ring["id"], "ringignore")
    assert forged.status_code != 200
    assert await ring_of(live, bob, "ringing") is not None


async def test_ringing_timeout_zero_disables_ringing(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    await live.setting("ringing_timeout", 0)
    await start_call(live, mattermost.users["alice"], "dm")
    await live.settle()
    assert await ring_of(live, mattermost.users["bob"]) is None


async def test_custom_status_while_in_a_meeting(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    carol = mattermost.users["carol"]
    async with mattermost.client(carol) as api:
        await api.put(
            f"/users/{carol.id}/status/custom", json={"emoji": "palm_tree", "text": "On holiday"}
        )
    joined = await start_call(live, carol, "public")
    assert await eventually(lambda: _status_is(mattermost, carol, "In a video conference"))
    await live.leave(joined)
    await live.settle()
    assert await eventually(lambda: _status_is(mattermost, carol, "On holiday")), (
        "the previous status comes back"
    )


async def _status_is(world: MattermostWorld, user: Account, text: str) -> bool:
    return await custom_status(world, user) == text


async def test_notifications_off_no_card_but_status_and_ringing_work(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    await live.setting("show_notifications", False)
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await start_call(live, alice, "dm")
    await eventually(lambda: ring_of(live, bob, "ringing"))
    await live.settle()
    assert await card_of(live, "dm") is None
    status = await live.meet(bob, "dm", "status")
    assert "* alice" in status["text"]
    assert await eventually(lambda: _status_is(mattermost, alice, "In a video conference"))
