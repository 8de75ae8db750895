"""Forged commands, forged buttons, bad join links, and the stable link's Mattermost sign-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from sqlalchemy import func, select

from meetbridge.store.tables import join_intents
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import PASSWORD, MattermostWorld, login
from tests.e2e.test_meet_flows import card_of

pytestmark = pytest.mark.mattermost


async def intents(live: LiveMeetbridge) -> int:
    async with live.components.core.database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(join_intents)) or 0)


def command_form(world: MattermostWorld, token: str, team_id: str | None = None) -> dict[str, str]:
    alice = world.users["alice"]
    return {
        "token": token,
        "team_id": team_id or world.team_id,
        "team_domain": world.team_name,
        "channel_id": world.channels["public"],
        "channel_name": "engineering",
        "user_id": alice.id,
        "user_name": alice.username,
        "command": "/meet",
        "text": "",
    }


async def test_commands_need_the_token_mattermost_issued(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    url = f"{live.url}/api/mattermost/command"
    real_token = live.components.state.command_tokens[mattermost.team_id]
    for form in (
        command_form(mattermost, "x" * 26),
        command_form(mattermost, ""),
        command_form(mattermost, real_token, team_id="z" * 26),
    ):
        response = await live.http.post(url, data=form)
        assert response.status_code == 401
        assert "not authorised" in response.json()["text"]
    assert await intents(live) == 0, "a refused command changes nothing"
    accepted = await live.http.post(url, data=command_form(mattermost, real_token))
    assert accepted.status_code == 200 and accepted.json()["goto_location"]
    header = await live.http.post(
        url,
        data={**command_form(mattermost, ""), "token": ""},
        headers={"Authorization": f"Token {real_token}"},
    )
    assert header.status_code == 200


async def test_button_clicks_need_meetbridges_signature(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    answer = await live.meet(alice, "public")
    await live.join(answer["goto_location"], f"alice-sec-{live.since_ms}")
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    # Mattermost never shows the context to clients, so build a genuine one the way the card did.
    genuine = live.components.buttons.button("Join", "join", mattermost.channels["public"], "1")[
        "integration"
    ]["context"]
    before = await intents(live)

    async def click(context: Any, channel: str = "public") -> httpx2.Response:
        return await live.http.post(
            f"{live.url}/api/mattermost/action",
            json={
                "user_id": mattermost.users["bob"].id,
                "channel_id": mattermost.channels[channel],
                "post_id": card["id"],
                "context": context,
            },
        )

    for forged in (
        {**genuine, "signature": "0" * 32},
        {k: v for k, v in genuine.items() if k != "signature"},
        {**genuine, "action": "admin_disallow"},
        {**genuine, "channel_id": mattermost.channels["private"]},
        None,
        "join",
    ):
        response = await click(forged)
        assert response.status_code == 403, forged
    replayed = await click(
        genuine, channel="private"
    )  # a genuine context, clicked in another channel
    assert replayed.status_code == 403
    assert await intents(live) == before
    bad_json = await live.http.post(f"{live.url}/api/mattermost/action", content=b"{oops")
    assert bad_json.status_code == 400
    assert (await click(genuine)).status_code == 200


async def test_join_links_refuse_tampering_expiry_and_other_purposes(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    link = (await live.meet(mattermost.users["alice"], "public"))["goto_location"]
    token = link.rsplit("/", 1)[1]
    body, signature = token.split(".")
    for bad in (f"{body}.{signature[:-2]}xx", f"{body[:-2]}AA.{signature}", "nonsense", f"{body}."):
        response = await live.http.get(f"{live.url}/join/{bad}")
        assert response.status_code == 403
        text = response.text.lower()
        assert "not valid" in text or "not issued" in text or "malformed" in text
    admin_token = live.components.core.links.encode(
        "admin-login", {"u": mattermost.admin.id}, live.components.core.clock.now(), 600
    )
    assert (await live.http.get(f"{live.url}/join/{admin_token}")).status_code == 403
    expired = live.components.core.links.encode(
        "join", {"u": mattermost.users["alice"].id, "c": mattermost.channels["public"]}, 0.0, 60
    )
    response = await live.http.get(f"{live.url}/join/{expired}")
    assert response.status_code == 403 and "expired" in response.text
    assert (await live.open_link(link)).status_code == 302


async def oauth_sign_in(live: LiveMeetbridge, username: str, stable_link: str) -> httpx2.Response:
    """A browser with a Mattermost session opening the stable link; returns meetbridge's answer
    to the OAuth callback."""
    session = login(live.world.url, username, PASSWORD)
    async with httpx2.AsyncClient(timeout=30.0) as browser:
        start = await browser.get(stable_link)
        assert start.status_code == 302, start.text
        authorize = start.headers["location"]
        assert authorize.startswith(f"{live.world.url}/oauth/authorize?")
        browser.cookies.set("MMAUTHTOKEN", session)
        granted = await browser.get(authorize)
        assert granted.status_code in (302, 303), granted.text[:500]
        callback = granted.headers["location"]
        assert callback.startswith(f"{live.url}/oauth/mattermost/callback?")
        assert parse_qs(urlsplit(callback).query)["code"]
        return await browser.get(callback)


async def test_the_stable_link_signs_members_in_with_mattermost(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    answer = await live.meet(mattermost.users["alice"], "private", "link")
    stable = f"{live.url}/meet/{mattermost.channels['private']}"
    assert stable in answer["text"]
    signed_in = await oauth_sign_in(live, "bob", stable)
    assert signed_in.status_code == 302, signed_in.text
    personal = signed_in.headers["location"]
    assert personal.startswith(f"{live.url}/join/")
    to_meeting = await live.open_link(personal)
    assert to_meeting.status_code == 302 and "name=bob" in to_meeting.headers["location"]
    outsider = await oauth_sign_in(live, "erin", stable)  # not a member of the private channel
    assert outsider.status_code == 403 and "Only members" in outsider.text


async def test_the_stable_link_needs_the_same_browser(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    stable = f"{live.url}/meet/{mattermost.channels['public']}"
    start = await live.http.get(stable)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    # The callback without the browser's cookie (someone else's browser, or a forged request).
    async with httpx2.AsyncClient() as other_browser:
        response = await other_browser.get(
            f"{live.url}/oauth/mattermost/callback", params={"state": state, "code": "x"}
        )
    assert response.status_code == 400 and "did not start in this browser" in response.text
    forged = await live.http.get(
        f"{live.url}/oauth/mattermost/callback", params={"state": "forged", "code": "x"}
    )
    assert forged.status_code == 400
