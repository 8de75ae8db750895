"""Mattermost stops in the middle of a meeting: nothing is lost, nothing doubled."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from meetbridge.store.tables import outbox
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.mattermost.server import MattermostServer
from tests.e2e.test_meet_flows import bot_posts, card_of, fields
from tests.e2e.test_meet_ringing_status import custom_status

pytestmark = [pytest.mark.mattermost, pytest.mark.slow]

# The outage lasts until every change queued during it has failed this many times (back-off
# 0.5, 1, 2, 4 s...) and the WebSocket has noticed: long enough to prove retries and resync,
# without a fixed minute of sleeping.
FAILED_ATTEMPTS = 4


async def test_cards_and_statuses_catch_up_after_an_outage(
    live: LiveMeetbridge, mattermost: MattermostWorld, mattermost_server: MattermostServer
) -> None:
    alice, bob, carol = (
        mattermost.users["alice"],
        mattermost.users["bob"],
        mattermost.users["carol"],
    )
    first = await live.join(
        (await live.meet(alice, "public"))["goto_location"], f"alice-out-{live.since_ms}"
    )
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    links = {
        "bob": (await live.meet(bob, "public"))["goto_location"],
        "carol": (await live.meet(carol, "public"))["goto_location"],
        "private": (await live.meet(alice, "private"))["goto_location"],
    }
    for link in links.values():
        # Each user's browser opened their link once already (Mattermost confirmed who they
        # are: that needs Mattermost up); during the outage it joins with that proof.
        assert (await live.open_link(link)).status_code == 302
    resyncs_before = live.components.chat.websocket.resyncs  # type: ignore[union-attr]

    mattermost_server.stop()
    try:
        assert not mattermost_server.is_up()
        await live.join(links["bob"], f"bob-out-{live.since_ms}")
        await live.join(links["carol"], f"carol-out-{live.since_ms}")
        await live.join(
            links["private"], f"alice-priv-{live.since_ms}"
        )  # a new meeting: a new card
        await live.leave(first)
        await live.settle()  # the events are applied; their outbox items now fail
        assert await eventually(lambda: _retried_while_down(live), timeout=90)
    finally:
        mattermost_server.start()

    async def caught_up() -> object:
        updated = await card_of(live, "public", "STARTED")
        return updated if updated and "In the meeting (2)" in fields(updated) else None

    updated = await eventually(caught_up, timeout=60)
    assert updated["id"] == card["id"]
    assert fields(updated)["In the meeting (2)"] == "bob, carol"
    private_card = await eventually(lambda: card_of(live, "private", "STARTED"), timeout=60)
    assert fields(private_card)["In the meeting (1)"] == "alice"
    for channel in ("public", "private"):
        meeting_cards = [
            p for p in await bot_posts(live, channel) if "meetbridge_meeting_id" in p["props"]
        ]
        assert len(meeting_cards) == 1, f"nothing is posted twice in {channel}"
    assert await eventually(lambda: _status(mattermost, "bob"), timeout=60)
    assert await eventually(lambda: _status(mattermost, "carol"), timeout=60)
    assert await eventually(lambda: _resynced(live, resyncs_before), timeout=60)


async def _retried_while_down(live: LiveMeetbridge) -> bool:
    """Every pending outbox item has failed FAILED_ATTEMPTS times, and the WebSocket is down."""
    async with live.components.core.database.read() as conn:
        attempts = (
            (await conn.execute(sa.select(outbox.c.attempts).where(outbox.c.status == "pending")))
            .scalars()
            .all()
        )
    websocket = live.components.chat.websocket  # type: ignore[union-attr]
    return bool(attempts) and min(attempts) >= FAILED_ATTEMPTS and not websocket.connected.is_set()


async def _status(world: MattermostWorld, who: str) -> bool:
    return await custom_status(world, world.users[who]) == "In a video conference"


async def _resynced(live: LiveMeetbridge, before: int) -> bool:
    websocket = live.components.chat.websocket  # type: ignore[union-attr]
    return websocket.connected.is_set() and websocket.resyncs > before
