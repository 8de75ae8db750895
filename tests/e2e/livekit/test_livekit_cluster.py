"""Two LiveKit nodes on one Redis: a room created through either is reachable through both."""

from __future__ import annotations

import time

import pytest

from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.livekit_fixtures import room_service_for

pytestmark = pytest.mark.livekit


async def test_a_room_created_through_node_a_is_listed_and_managed_through_node_b(
    livekit_cluster: tuple[LiveKitServer, LiveKitServer], room_name: str
) -> None:
    node_a, node_b = livekit_cluster
    via_a, via_b = room_service_for(node_a), room_service_for(node_b)
    try:
        # Pinned to node A so that every call through node B has to cross Redis.
        created = await via_a.create_room(room_name, metadata="made on A", node_id=node_a.node_id)
        assert f'"selectedNodeID":"{node_a.node_id}"' in node_a.log_tail(1_000_000)
        (seen_from_b,) = await via_b.list_rooms([room_name])
        assert (seen_from_b.sid, seen_from_b.metadata) == (created.sid, "made on A")

        # A participant signals through node B; node A's API sees and manages them.
        grant = AccessTokenRequest(identity="carol", grant=member_grant(room_name))
        token = mint(node_b.api_key.key, node_b.api_key.secret, grant, time.time())
        async with SignallingParticipant(node_b.ws_url, token) as carol:
            assert [p.identity for p in await via_a.list_participants(room_name)] == ["carol"]
            updated = await via_b.update_room_metadata(room_name, "changed on B")
            assert updated.metadata == "changed on B"
            assert (await via_a.list_rooms([room_name]))[0].metadata == "changed on B"
            await via_a.remove_participant(room_name, "carol")
            assert await carol.closed_by_server()

        await via_b.delete_room(room_name)
        assert await via_a.list_rooms([room_name]) == []
    finally:
        await via_a.close()
        await via_b.close()


async def test_a_room_hosted_on_node_b_is_reachable_through_node_a(
    livekit_cluster: tuple[LiveKitServer, LiveKitServer], room_name: str
) -> None:
    node_a, node_b = livekit_cluster
    via_a = room_service_for(node_a)
    try:
        created = await via_a.create_room(room_name, node_id=node_b.node_id)
        assert f'"selectedNodeID":"{node_b.node_id}"' in node_a.log_tail(1_000_000)
        grant = AccessTokenRequest(identity="dave", grant=member_grant(room_name))
        token = mint(node_a.api_key.key, node_a.api_key.secret, grant, time.time())
        async with SignallingParticipant(node_a.ws_url, token):
            (dave,) = await via_a.list_participants(room_name)
            assert dave.identity == "dave"
            assert (await via_a.get_participant(room_name, "dave")).sid == dave.sid
        assert [room.sid for room in await via_a.list_rooms([room_name])] == [created.sid]
        await via_a.delete_room(room_name)
    finally:
        await via_a.close()


async def test_each_node_is_its_own_process_with_its_own_ports(
    livekit_cluster: tuple[LiveKitServer, LiveKitServer],
) -> None:
    node_a, node_b = livekit_cluster
    assert node_a.http_port != node_b.http_port
    assert node_a.rtc_udp_port != node_b.rtc_udp_port
    assert node_a.process is not None and node_b.process is not None
    assert node_a.process.pid != node_b.process.pid
    assert node_a.redis_address == node_b.redis_address
    assert node_a.node_id != node_b.node_id
