"""Hosts and guests in Pexip meetings through /meet, with real users on the real Mattermost
server (Infinity simulated): every member's link carries the guest PIN, and meetbridge's answer
to Infinity's participant-properties request decides who is host."""

from __future__ import annotations

import pytest

from tests.e2e.live import LiveMeetbridge
from tests.e2e.mattermost.bootstrap import MattermostWorld

pytestmark = pytest.mark.mattermost


async def test_the_member_who_starts_is_host_and_the_next_one_a_guest(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    started = await live.meet(alice, "private", "start Planning")
    alices = await live.join(started["goto_location"], "alice-1")
    asked = await live.meet(bob, "private")
    bobs = await live.join(asked["goto_location"], "bob-1")
    assert (alices.role, bobs.role) == ("chair", "guest")
    assert alices.pin == bobs.pin  # the guest PIN: it decides nothing
    for answer in (started, asked):  # the PIN is not in what Mattermost is given
        assert alices.pin not in str(answer)


async def test_in_a_direct_message_both_people_are_hosts(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    alices = await live.join((await live.meet(alice, "dm"))["goto_location"], "alice-dm")
    bobs = await live.join((await live.meet(bob, "dm"))["goto_location"], "bob-dm")
    assert (alices.role, bobs.role) == ("chair", "chair")
    assert alices.pin == bobs.pin


async def test_an_admin_makes_a_guest_link_once_confirmed_and_a_member_cannot(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    refused = await live.meet(mattermost.users["bob"], "public", "guest-link 2")
    assert refused["text"] == "Only channel admins and system admins can make guest links."
    usage = await live.meet(mattermost.admin, "public", "guest-link 1000")
    assert usage["text"].startswith("Use `/meet guest-link`")
    assert await live.components.guest_links.active() == []

    confirmed = await live.meet_confirmed(mattermost.admin, "public", "guest-link 2")
    assert confirmed.status_code == 200 and not confirmed.json(), confirmed.text
    [link] = await live.components.guest_links.active()
    assert link.channel_id == mattermost.channels["public"]
    assert link.created_by == mattermost.admin.id
    assert link.expires_at - link.created_at == 2 * 3600
