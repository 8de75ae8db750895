"""Links from /meet open only for the Mattermost user they name, as Mattermost confirms
(issue 9, item 2).

Whoever holds the slash-command token (team admins can read it) can send meetbridge a command
naming any user_id and read the reply. These tests forge such commands with the real token,
then open the links from the reply in the forger's browser (signed in to Mattermost as someone
else): nothing is revealed. The real user's browser goes through Mattermost's OAuth silently and
gets where the link leads.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.store.tables import admin_sessions
from tests.e2e.live import LiveMeetbridge
from tests.e2e.mattermost.bootstrap import PASSWORD, Account, MattermostWorld, login

pytestmark = pytest.mark.mattermost


async def forged_command(
    live: LiveMeetbridge, victim: Account, channel: str, text: str = ""
) -> dict[str, Any]:
    """What a holder of the command token gets back for a /meet that names ``victim``."""
    world = live.world
    response = await live.http.post(
        f"{live.url}/api/mattermost/command",
        data={
            "token": live.components.state.command_tokens[world.team_id],
            "team_id": world.team_id,
            "team_domain": world.team_name,
            "channel_id": world.channels[channel],
            "channel_name": channel,
            "user_id": victim.id,
            "user_name": victim.username,
            "command": "/meet",
            "text": text,
        },
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def admin_link(answer: dict[str, Any]) -> str:
    found = re.search(r"\((http[^)]*/admin/login\?token=[^)]+)\)", answer["text"])
    assert found, answer
    return found.group(1)


async def sessions(live: LiveMeetbridge) -> int:
    async with live.components.core.database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(admin_sessions)) or 0)


async def test_a_forged_command_gives_a_join_link_only_its_user_can_open(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice, erin = mattermost.users["alice"], mattermost.users["erin"]  # erin: not in "private"
    link = (await forged_command(live, alice, "private"))["goto_location"]
    pins = await live.components.state.pins_for(ChannelId(mattermost.channels["private"]))
    pin = pins.guest_pin  # what a member's Webapp3 link carries (never the host PIN)

    forged = await live.open_link_as(link, erin)
    assert forged.status_code == 403
    assert "made for another Mattermost user" in forged.text
    assert pin not in forged.text and "location" not in forged.headers

    unsigned = await live.http.get(link)  # a browser Mattermost knows nothing about
    assert unsigned.status_code == 302
    assert unsigned.headers["location"].startswith(f"{mattermost.url}/oauth/authorize?")

    real = await live.open_link_as(link, alice)
    assert real.status_code == 302
    assert f"pin={pin}" in real.headers["location"] and "name=alice" in real.headers["location"]
    assert pins.host_pin not in real.headers["location"]


async def test_the_identity_cookie_is_short_lived_http_only_and_scoped(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    link = (await live.meet(alice, "public"))["goto_location"]
    async with live.browser(alice) as browser:
        first = await live.open_in(browser, link)
        assert first.status_code == 302
        cookies = [c for c in browser.cookies.jar if c.name == "meetbridge_identity"]
        assert len(cookies) == 1, "Mattermost's proof is kept in the identity cookie"
        cookie = cookies[0]
        assert cookie.path == "/join" and cookie.has_nonstandard_attr("HttpOnly")
        lifetime = (cookie.expires or 0) - live.components.core.clock.now()
        assert 0 < lifetime <= 15 * 60 + 5
        # A second link opens at once: the proof is remembered for a short while.
        again = await browser.get((await live.meet(alice, "public"))["goto_location"])
        assert again.status_code == 302 and "pin=" in again.headers["location"]


async def test_a_forged_admin_command_gives_a_console_link_only_the_admin_can_open(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    admin, bob = mattermost.admin, mattermost.users["bob"]
    link = admin_link(await forged_command(live, admin, "town-square", "admin"))
    before = await sessions(live)
    forged = await live.open_link_as(link, bob)
    assert forged.status_code == 403
    assert "made for another Mattermost user" in forged.text
    assert "meetbridge_admin" not in forged.headers.get("set-cookie", "")
    assert await sessions(live) == before

    async with live.browser(admin) as browser:
        signed_in = await live.open_in(browser, link)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
        console = await browser.get(f"{live.url}/admin")
        assert console.status_code == 200 and "Admin sections" in console.text
    assert await sessions(live) == before + 1


async def test_a_demoted_admin_loses_the_console(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    async with mattermost.client(mattermost.admin) as api:
        made = await api.post(
            "/users",
            json={
                "email": f"temp{live.since_ms}@example.com",
                "username": f"temp{live.since_ms}",
                "password": PASSWORD,
            },
        )
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        promoted = await api.put(
            f"/users/{user_id}/roles", json={"roles": "system_user system_admin"}
        )
        assert promoted.status_code == 200, promoted.text
    temp = Account(user_id, made.json()["username"], login(mattermost.url, f"temp{live.since_ms}"))
    token = live.components.console.login_link_token(UserId(temp.id))
    link = f"{live.url}/admin/login?token={token}"
    async with live.browser(temp) as browser:
        assert (await live.open_in(browser, link)).status_code == 303
        assert (await browser.get(f"{live.url}/admin")).status_code == 200
        async with mattermost.client(mattermost.admin) as api:
            demoted = await api.put(f"/users/{user_id}/roles", json={"roles": "system_user"})
            assert demoted.status_code == 200
        # The role is asked again at least every ROLE_CHECK_INTERVAL; here: on every request.
        live.components.console.role_check_interval = 0.0
        refused = await browser.get(f"{live.url}/admin/settings")
        assert refused.status_code == 403 and "Only system admins" in refused.text
    async with live.components.core.database.read() as conn:
        left = await conn.scalar(select(func.count()).where(admin_sessions.c.user_id == user_id))
    assert left == 0, "the demoted admin's session was ended"
