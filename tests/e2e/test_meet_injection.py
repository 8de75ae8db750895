"""A hostile topic and guest name on the real Mattermost: shown literally, nobody notified."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.e2e.test_meet_flows import card_of

pytestmark = pytest.mark.mattermost

HOSTILE = "@all [Recording ready](https://evil.example)"
GUEST = "@channel ![x](https://evil.example/p.png) @bob"


async def mention_count(world: MattermostWorld, channel: str, who: str) -> int:
    async with world.client(world.admin) as api:
        member = (
            await api.get(f"/channels/{world.channels[channel]}/members/{world.users[who].id}")
        ).json()
    return int(member["mention_count"])


def texts_of(card: dict[str, Any]) -> list[str]:
    attachment = card["props"]["attachments"][0]
    texts = [card["message"], attachment.get("title", ""), attachment.get("text", "")]
    for field in attachment.get("fields", []):
        texts += [field["title"], field["value"]]
    return texts


async def test_a_hostile_topic_and_guest_name_post_no_link_and_notify_nobody(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    before = {who: await mention_count(mattermost, "public", who) for who in ("bob", "carol")}

    answer = await live.meet(alice, "public", f"start {HOSTILE}")
    joined = await live.join(answer["goto_location"], f"alice-inj-{live.since_ms}")
    tag = f"mattermost:{mattermost.channels['public']}"
    await live.deliver(
        live.node.participant_connected(
            joined.alias, tag, uuid=f"guest-inj-{live.since_ms}", display_name=GUEST, role="guest"
        )
    )
    await live.settle()

    async def card_with_guest() -> dict[str, Any] | None:
        card = await card_of(live, "public", "STARTED")
        return card if card and any("In the meeting (2)" in t for t in texts_of(card)) else None

    card = await eventually(card_with_guest)
    assert card["props"]["meeting_topic"] == HOSTILE  # the data, kept as typed
    for text in texts_of(card):
        assert "](" not in text, text  # no link, no image
        for mention in ("@all", "@channel", "@bob"):
            assert mention not in text, text
    # What a reader sees: the topic, literally.
    assert "Recording ready" in card["message"] and "evil" in card["message"]
    await live.settle()
    after = {who: await mention_count(mattermost, "public", who) for who in ("bob", "carol")}
    assert after == before

    # The control: the same text posted raw by the bot does notify the channel, so the
    # unchanged counts above mean something.
    async with mattermost.client(mattermost.bot) as api:
        raw = await api.post(
            "/posts", json={"channel_id": mattermost.channels["public"], "message": HOSTILE}
        )
        assert raw.status_code == 201, raw.text
    try:
        assert await eventually(
            lambda: _more_mentions(mattermost, "bob", before["bob"]), timeout=20
        )
    finally:
        async with mattermost.client(mattermost.bot) as api:
            await api.delete(f"/posts/{raw.json()['id']}")


async def _more_mentions(world: MattermostWorld, who: str, than: int) -> bool:
    return await mention_count(world, "public", who) > than
