"""/meet in every kind of channel, the channel filter, display names, help and admin."""

from __future__ import annotations

import pytest

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.services.join import JoinRefusedError
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.test_meet_flows import card_of, fields

pytestmark = pytest.mark.mattermost

NOT_AVAILABLE = "Conference not available for this channel"


@pytest.mark.parametrize("channel", ["private", "dm", "gm", "town-square"])
async def test_meet_works_in_every_kind_of_channel(
    live: LiveMeetbridge, mattermost: MattermostWorld, channel: str
) -> None:
    answer = await live.meet(mattermost.users["alice"], channel)
    joined = await live.join(answer["goto_location"], f"alice-{channel}")
    assert joined.alias == f"matt-{mattermost.channels[channel]}"
    await live.settle()
    card = await eventually(lambda: card_of(live, channel, "STARTED"))
    assert fields(card)["In the meeting (1)"] == "alice"


async def test_a_disallowed_channel_answers_not_available(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    # A card already in the channel, then the admin disallows the channel.
    answer = await live.meet(alice, "disallowed")
    await live.join(answer["goto_location"], "alice-d")
    await live.settle()
    card = await eventually(lambda: card_of(live, "disallowed", "STARTED"))
    await live.components.admin.set_channel_allowed(
        ChannelId(mattermost.channels["disallowed"]), False, "test"
    )
    await live.components.state.refresh()
    refused = await live.meet(mattermost.users["bob"], "disallowed")
    assert refused["text"] == NOT_AVAILABLE and not refused.get("goto_location")
    clicked = await live.click(mattermost.users["bob"], card["id"], "join")
    assert clicked.status_code == 200
    # The action's ephemeral answer is delivered to the clicker; the join link was not issued.
    assert "goto_location" not in clicked.text
    # A join link issued before the change no longer works either.
    response = await live.open_link(answer["goto_location"])
    assert response.status_code == 403 and NOT_AVAILABLE in response.text


async def test_an_archived_channel_cannot_meet(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    archived = ChannelId(mattermost.channels["archived"])
    with pytest.raises(JoinRefusedError, match=NOT_AVAILABLE):
        await live.components.join.issue(archived, UserId(mattermost.users["alice"].id))
    # Mattermost itself refuses commands there.
    async with mattermost.client(mattermost.users["alice"]) as api:
        response = await api.post(
            "/commands/execute", json={"channel_id": archived, "command": "/meet"}
        )
    assert response.status_code == 400


async def test_archiving_takes_effect_at_once(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    """The WebSocket tells meetbridge, so a link and the policy stop working immediately."""
    alice = mattermost.users["alice"]
    async with mattermost.client(mattermost.admin) as admin:
        channel = (
            await admin.post(
                "/channels",
                json={
                    "team_id": mattermost.team_id,
                    "name": f"brief-{live.node.seq}-{id(live)}",
                    "display_name": "Brief",
                    "type": "O",
                },
            )
        ).json()
        for member in (alice.id, mattermost.bot.id):
            await admin.post(f"/channels/{channel['id']}/members", json={"user_id": member})
        answer = await live.meet(alice, channel["id"])
        assert answer["goto_location"]
        await admin.delete(f"/channels/{channel['id']}")

    async def refused() -> bool:
        response = await live.open_link(answer["goto_location"])
        return response.status_code == 403 and NOT_AVAILABLE in response.text

    assert await eventually(refused, timeout=5)
    policy = await live.http.get(
        f"{live.url}/api/pexip/policy/v1/service/configuration",
        params=live.node.service_configuration(f"matt-{channel['id']}"),
        headers=live.auth,
    )
    assert policy.json()["action"] == "reject"


async def test_non_members_cannot_join(live: LiveMeetbridge, mattermost: MattermostWorld) -> None:
    erin = mattermost.users["erin"]  # not in the private channel
    with pytest.raises(JoinRefusedError, match="Only members"):
        await live.components.join.issue(ChannelId(mattermost.channels["private"]), UserId(erin.id))


@pytest.mark.parametrize(
    ("style", "who", "expected"),
    [
        ("username", "alice", "alice"),
        ("nickname", "bob", "Bobby"),
        ("full_name", "carol", "Carol Clark"),
        ("nickname", "dave", "dave"),
        ("full_name", "dave", "dave"),
    ],
)
async def test_display_names_follow_the_setting(
    live: LiveMeetbridge, mattermost: MattermostWorld, style: str, who: str, expected: str
) -> None:
    await live.setting("display_name", style)
    answer = await live.meet(mattermost.users[who], "public")
    joined = await live.join(answer["goto_location"], f"{who}-{style}")
    assert joined.name == expected
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    assert fields(card)["Started by"] == expected
    assert card["message"].startswith(f"{expected} started a video meeting")


async def test_status_help_and_unknown(live: LiveMeetbridge, mattermost: MattermostWorld) -> None:
    alice = mattermost.users["alice"]
    idle = await live.meet(alice, "public", "status")
    assert "No meeting is in progress" in idle["text"]
    answer = await live.meet(alice, "public")
    await live.join(answer["goto_location"], "alice-s")
    running = await live.meet(mattermost.users["bob"], "public", "status")
    assert "has been running for" in running["text"] and "* alice" in running["text"]
    helped = await live.meet(alice, "public", "help")
    assert "/meet link" in helped["text"] and "/meet admin" not in helped["text"]
    unknown = await live.meet(alice, "public", "dance")
    assert "`dance` is not a /meet command" in unknown["text"] and "/meet status" in unknown["text"]


async def test_admin_link_and_quick_filter(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    refused = await live.meet(mattermost.users["alice"], "public", "admin")
    assert "Only system admins" in refused["text"]
    admin = mattermost.admin
    answer = await live.meet(admin, "town-square", "admin")
    assert f"{live.url}/admin/login?token=" in answer["text"]
    disallowed = await live.meet_confirmed(admin, "town-square", "admin disallow")
    assert disallowed.status_code == 200, disallowed.text
    await live.components.state.refresh()
    assert (await live.meet(mattermost.users["alice"], "town-square"))["text"] == NOT_AVAILABLE
    assert (await live.meet_confirmed(admin, "town-square", "admin allow")).status_code == 200
    await live.components.state.refresh()
    assert (await live.meet(mattermost.users["alice"], "town-square"))["goto_location"]
