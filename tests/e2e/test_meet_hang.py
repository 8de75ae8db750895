"""Mattermost hangs (SIGSTOP) or crashes (SIGKILL) while a meeting starts and ends: one card.

A request that times out on meetbridge's side may still be queued in a frozen Mattermost, which
carries it out when it resumes. Posting a card must therefore be idempotent: every attempt looks
for the card by its marker first, and creates carry a stable ``pending_post_id``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from meetbridge.store import outbox_repo
from meetbridge.store.tables import outbox
from tests.e2e.live import Joined, LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.mattermost.server import MattermostServer
from tests.e2e.test_meet_flows import bot_posts, card_of

pytestmark = [pytest.mark.mattermost, pytest.mark.slow]

# Each card attempt against a frozen Mattermost waits for meetbridge's 10 s request timeout.
FROZEN_ATTEMPTS_TIMEOUT = 180.0
CATCH_UP_TIMEOUT = 120.0


async def _failed_card_attempts(live: LiveMeetbridge) -> int:
    async with live.components.core.database.read() as conn:
        count = await conn.scalar(
            select(func.count()).where(
                outbox.c.dedupe_key.like("card:%"), outbox.c.last_error.is_not(None)
            )
        )
    return int(count or 0)


async def _at_least(live: LiveMeetbridge, attempts: int) -> bool:
    return await _failed_card_attempts(live) >= attempts


async def _delivered(live: LiveMeetbridge) -> bool:
    async with live.components.core.database.read() as conn:
        return await outbox_repo.backlog(conn) == 0


async def _cards(live: LiveMeetbridge, channel: str) -> list[dict[str, Any]]:
    return [p for p in await bot_posts(live, channel) if "meetbridge_meeting_id" in p["props"]]


async def _one_ended_card(live: LiveMeetbridge, channel: str) -> list[dict[str, Any]]:
    await eventually(lambda: card_of(live, channel, "ENDED"), timeout=CATCH_UP_TIMEOUT)
    await eventually(lambda: _delivered(live), timeout=CATCH_UP_TIMEOUT)
    return await _cards(live, channel)


async def _start(live: LiveMeetbridge, mattermost: MattermostWorld, tag: str) -> list[Joined]:
    """alice and bob join the public channel's meeting (links fetched while Mattermost runs)."""
    links = [
        (await live.meet(mattermost.users[who], "public"))["goto_location"]
        for who in ("alice", "bob")
    ]
    return [await live.join(link, f"{tag}-{n}-{live.since_ms}") for n, link in enumerate(links)]


async def _end(live: LiveMeetbridge, people: list[Joined]) -> None:
    for person in people:
        await live.leave(person)
    await live.end(people[0].alias)


async def test_a_meeting_that_starts_and_ends_while_mattermost_hangs_gets_one_card(
    live: LiveMeetbridge, mattermost: MattermostWorld, mattermost_server: MattermostServer
) -> None:
    links = [
        (await live.meet(mattermost.users[who], "public"))["goto_location"]
        for who in ("alice", "bob")
    ]
    # Each browser gets Mattermost's word on who it is while Mattermost answers (links open
    # only with it); during the freeze they join with that proof.
    for link in links:
        assert (await live.open_link(link)).status_code == 302
    mattermost_server.pause()
    try:
        people = [await live.join(links[0], f"hang-0-{live.since_ms}")]
        # The card's first post now hangs; while it does, the meeting goes on and ends.
        people.append(await live.join(links[1], f"hang-1-{live.since_ms}"))
        await _end(live, people)
        # Two card attempts timed out: without idempotent posting, both creates are queued.
        await eventually(lambda: _at_least(live, 2), timeout=FROZEN_ATTEMPTS_TIMEOUT)
    finally:
        mattermost_server.resume()

    cards = await _one_ended_card(live, "public")
    assert len(cards) == 1, [c["props"]["meeting_status"] for c in cards]
    assert cards[0]["props"]["meeting_status"] == "ENDED"


async def test_a_card_mattermost_made_before_crashing_is_not_posted_again_after_restart(
    live: LiveMeetbridge, mattermost: MattermostWorld, mattermost_server: MattermostServer
) -> None:
    links = [
        (await live.meet(mattermost.users[who], "public"))["goto_location"]
        for who in ("alice", "bob")
    ]
    # Each browser gets Mattermost's word on who it is while Mattermost answers (links open
    # only with it); during the freeze they join with that proof.
    for link in links:
        assert (await live.open_link(link)).status_code == 302
    mattermost_server.pause()
    try:
        people = [await live.join(links[0], f"crash-0-{live.since_ms}")]
        await eventually(lambda: _at_least(live, 1), timeout=FROZEN_ATTEMPTS_TIMEOUT)
        people.append(await live.join(links[1], f"crash-1-{live.since_ms}"))
        await _end(live, people)
    finally:
        mattermost_server.resume()
    try:
        # Mattermost carries out the create it had queued (meetbridge never heard back), then
        # crashes, forgetting the pending_post_ids it had seen.
        await eventually(lambda: _cards(live, "public"), timeout=CATCH_UP_TIMEOUT, every=0.05)
        mattermost_server.kill()
    finally:
        mattermost_server.restart()

    cards = await _one_ended_card(live, "public")
    assert len(cards) == 1, [c["props"]["meeting_status"] for c in cards]
    assert cards[0]["props"]["meeting_status"] == "ENDED"
