"""Only a valid call tag says which member a participant is (item 9 of issue 9).

A guest chooses their own display name. Taking a member's name, shortly after that member asked
for a join link, must not credit them as the member: no "In a video conference" status for
the member, their ringing is not marked answered, and attendance does not name them.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store import chat_repo, meetings_repo
from meetbridge.store.tables import outbox
from tests.conftest import RunningApp
from tests.integration.conftest import alias, post_events, tag
from tests.support.infinity import InfinityNode

CHANNEL = ChannelId("k3f9q1x7ab8cd2ef4gh6ij8kl0")
MEMBER = UserId("u3f9q1x7ab8cd2ef4gh6ij8kl0")
CALLER = UserId("c3f9q1x7ab8cd2ef4gh6ij8kl0")
NAME = "Dana Reyes"


async def a_ringing_meeting(service: RunningApp, node: InfinityNode) -> int:
    """A meeting in progress in which MEMBER is being rung and has just asked for a link."""
    await post_events(
        service, node.sink_started(), node.conference_started(alias(CHANNEL), tag(CHANNEL))
    )
    await service.components.applier.drain()
    now = time.time()
    async with service.components.core.database.transaction() as conn:
        meeting = await meetings_repo.current_for_channel(conn, CHANNEL)
        assert meeting is not None and meeting.id is not None
        await chat_repo.start_ring(conn, meeting.id, CHANNEL, CALLER, MEMBER, now + 30, now)
        # What /meet join records for the member: their name, a moment ago.
        await chat_repo.record_intent(conn, CHANNEL, MEMBER, NAME, None, now - 60)
    return meeting.id


async def credited(service: RunningApp, meeting_id: int) -> dict[str, object]:
    async with service.components.core.database.read() as conn:
        (ring,) = await chat_repo.rings_of(conn, meeting_id)
        meeting = await meetings_repo.current_for_channel(conn, CHANNEL)
        in_meeting = await meetings_repo.user_in_meeting(conn, MEMBER)
        status_items = list(
            await conn.execute(select(outbox.c.id).where(outbox.c.dedupe_key == f"status:{MEMBER}"))
        )
    assert meeting is not None
    return {
        "ring": ring.state,
        "in_meeting": in_meeting,
        "status_queued": bool(status_items),
        "attendee_ids": sorted(str(a.user_id) for a in meeting.attendees.values()),
        "names": [p.display_name for p in meeting.participants()],
    }


async def test_a_tagless_guest_with_a_members_name_is_not_credited_as_the_member(
    service: RunningApp, node: InfinityNode
) -> None:
    meeting_id = await a_ringing_meeting(service, node)
    guest = node.participant_connected(
        alias(CHANNEL), tag(CHANNEL), uuid="guest", display_name=NAME, role="guest"
    )
    await post_events(service, guest)
    await service.components.applier.drain()
    assert await credited(service, meeting_id) == {
        "ring": chat_repo.RINGING,
        "in_meeting": False,
        "status_queued": False,
        "attendee_ids": ["None"],
        "names": [NAME],  # the name still shows: it decorates, it does not identify
    }


@pytest.mark.parametrize("call_tag", ["", "mbu.u3f9q1x7ab8cd2ef4gh6ij8kl0.forged-signature-xx"])
async def test_a_missing_or_forged_tag_with_a_members_name_is_not_the_member(
    service: RunningApp, node: InfinityNode, call_tag: str
) -> None:
    meeting_id = await a_ringing_meeting(service, node)
    joined = node.participant_connected(
        alias(CHANNEL), tag(CHANNEL), uuid="p", display_name=NAME, call_tag=call_tag
    )
    await post_events(service, joined)
    await service.components.applier.drain()
    facts = await credited(service, meeting_id)
    assert (facts["ring"], facts["in_meeting"], facts["status_queued"]) == (
        chat_repo.RINGING,
        False,
        False,
    )


async def test_the_member_with_a_valid_call_tag_is_credited(
    service: RunningApp, node: InfinityNode
) -> None:
    meeting_id = await a_ringing_meeting(service, node)
    call_tag = make_call_tag(service.components.core.call_tags, CHANNEL, MEMBER)
    member = node.participant_connected(
        alias(CHANNEL), tag(CHANNEL), uuid="member", display_name="anything", call_tag=call_tag
    )
    await post_events(service, member)
    await service.components.applier.drain()
    assert await credited(service, meeting_id) == {
        "ring": chat_repo.ANSWERED,
        "in_meeting": True,
        "status_queued": True,
        "attendee_ids": [MEMBER],
        "names": ["anything"],
    }
