"""Floods and stale rights in Pexip meetings (issue 20, item 6), against the simulated
Conferencing Node with meetbridge as its policy server: the page's control calls are
rate-limited per device, and a member removed from the channel during the meeting is
disconnected at once, refused by the control API and by Infinity's next policy request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.conftest import RunningApp
from tests.integration import pexip_meeting as harness
from tests.integration.conftest import PARTICIPANT_PROPERTIES, alias, policy, tag
from tests.integration.pexip_meeting import PexipMeeting
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn

conferencing_node, service, meeting = harness.conferencing_node, harness.service, harness.meeting
REPORT = {"sendKbps": 1200, "receiveKbps": 2400, "packetLossPercent": 1.5, "rttMs": 42}


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_member_removed_from_the_channel_is_taken_out_of_the_pexip_meeting(
    meeting: PexipMeeting, service: RunningApp, mattermost: MattermostStandIn
) -> None:
    alice_id, bob_id = mattermost.add_user("alice"), mattermost.add_user("bob")
    alice = await meeting.join(alice_id)
    bob = await meeting.join(bob_id)
    mattermost.channels[meeting.channel]["members"] = {alice_id}
    assert service.components.chat is not None
    service.components.chat.websocket.handle(
        "user_removed", {"user_id": bob_id, "remover_id": alice_id}, {"channel_id": meeting.channel}
    )
    await until(lambda: bob.uuid not in meeting.node.participants)
    assert (f"participants/{bob.uuid}/disconnect", "chair", 200) in meeting.node.actions
    await meeting.leave(bob)
    assert (await meeting.act(bob, "raise-hand")).status_code == 403
    # His page, kept, no longer gets him in: Infinity is told to refuse him.
    query = InfinityNode("10.20.0.22").participant_properties(
        alias(meeting.channel), tag(meeting.channel), call_tag=str(bob.config["callTag"])
    )
    answer = (await policy(service, query, PARTICIPANT_PROPERTIES)).json()
    assert answer["action"] == "reject"
    assert alice.uuid in meeting.node.participants


async def test_pexip_page_actions_are_rate_limited_per_device(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    bob = await meeting.join(mattermost.add_user("bob"))
    codes = [
        (await meeting.act(bob, "raise-hand" if i % 2 == 0 else "lower-hand")).status_code
        for i in range(7)
    ]
    assert codes == [200] * 6 + [429]
    stats = [(await meeting.act(bob, "stats", **REPORT)).status_code for _ in range(4)]
    assert stats == [200] * 3 + [429]
