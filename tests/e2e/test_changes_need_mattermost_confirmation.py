"""Commands that change something act only after the user confirms in a Mattermost dialog
(issue 9, item 2).

Mattermost signs neither slash commands nor button clicks, and team admins can read the command
token, so a forged ``/meet admin disallow`` can name the system admin. What Mattermost does sign
is the ``trigger_id`` of each request: it opens a dialog only for the user the trigger was made
for. meetbridge answers a changing command with a confirmation dialog through that trigger; the
dialog carries a signed, single-use state that only the real user's clients ever see, and only a
submission of that state by that user applies the change.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, select

from meetbridge.chat.mattermost.interactions import Invocation
from meetbridge.store import channel_filter_repo
from meetbridge.store.tables import audit_log
from tests.e2e.live import LiveMeetbridge
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld

pytestmark = pytest.mark.mattermost

NOT_YOURS = "could not be confirmed as yours"


async def forged_command(
    live: LiveMeetbridge, victim: Account, channel: str, text: str, trigger_id: str | None
) -> dict[str, Any]:
    """A /meet naming ``victim``, sent by a holder of the command token (not by Mattermost)."""
    world = live.world
    form = {
        "token": live.components.state.command_tokens[world.team_id],
        "team_id": world.team_id,
        "channel_id": world.channels[channel],
        "user_id": victim.id,
        "user_name": victim.username,
        "command": "/meet",
        "text": text,
    }
    if trigger_id is not None:
        form["trigger_id"] = trigger_id
    response = await live.http.post(f"{live.url}/api/mattermost/command", data=form)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def disallowed(live: LiveMeetbridge) -> frozenset[str]:
    async with live.components.core.database.read() as conn:
        return await channel_filter_repo.disallowed(conn)


async def filter_changes(live: LiveMeetbridge) -> int:
    async with live.components.core.database.read() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.action.in_(["channel.allowed", "channel.disallowed"]))
        )
        return int(count or 0)


async def test_a_forged_admin_command_changes_nothing_and_opens_no_dialog(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    admin, bob = mattermost.admin, mattermost.users["bob"]
    made_up = made_up_trigger(admin)
    before = await disallowed(live), await filter_changes(live)
    async with live.dialogs_of(bob) as forger, live.dialogs_of(admin) as victim:
        for trigger in (None, "", made_up, "%%%", "é"):
            answer = await forged_command(live, admin, "town-square", "admin disallow", trigger)
            expected = "could not show the confirmation" if trigger == made_up else NOT_YOURS
            assert expected in answer["text"], trigger
            assert "state" not in str(answer)
            assert (await disallowed(live), await filter_changes(live)) == before
        with pytest.raises(TimeoutError):
            await forger.next(timeout=2)
        assert victim.opened == [], "a trigger Mattermost did not sign opens nothing"


async def test_the_forgers_own_trigger_cannot_act_for_the_admin(
    live: LiveMeetbridge, mattermost: MattermostWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, bob = mattermost.admin, mattermost.users["bob"]
    interactions = live.components.interactions
    seen: list[Invocation] = []
    original = interactions.command

    async def recording(invocation: Invocation) -> dict[str, Any]:
        seen.append(invocation)
        return await original(invocation)

    monkeypatch.setattr(interactions, "command", recording)
    await live.meet(bob, "town-square", "status")  # Bob's genuine, signed trigger
    (genuine,) = seen
    assert genuine.trigger_id and genuine.user_id == bob.id
    before = await disallowed(live), await filter_changes(live)
    async with live.dialogs_of(bob) as forger, live.dialogs_of(admin) as victim:
        answer = await forged_command(
            live, admin, "town-square", "admin disallow", genuine.trigger_id
        )
        assert NOT_YOURS in answer["text"]
        with pytest.raises(TimeoutError):
            await forger.next(timeout=2)
        assert victim.opened == []
    assert (await disallowed(live), await filter_changes(live)) == before


async def test_the_admin_confirms_in_a_dialog_and_the_change_applies_once(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    admin, bob = mattermost.admin, mattermost.users["bob"]
    channel = mattermost.channels["town-square"]
    changes = await filter_changes(live)
    async with live.dialogs_of(admin) as dialogs:
        answer = await live.meet(admin, "town-square", "admin disallow")
        opened = await dialogs.next()
    assert "state" not in str(answer)
    assert opened["url"] == f"{live.url}/api/mattermost/dialog"
    assert opened["dialog"]["title"] == "Disallow meetings here?"
    assert "~town-square" in opened["dialog"]["introduction_text"], "it says which channel"
    assert channel not in await disallowed(live), "nothing changes before the confirmation"

    stolen = await live.submit_dialog(bob, opened, "town-square")  # Mattermost names Bob
    assert stolen.status_code == 400, "Mattermost relays meetbridge's refusal"
    direct = await live.http.post(
        f"{live.url}/api/mattermost/dialog",
        json={
            "type": "dialog_submission",
            "state": opened["dialog"]["state"],
            "user_id": bob.id,
            "channel_id": channel,
            "submission": {},
        },
    )
    assert direct.status_code == 403 and "another user" in direct.json()["error"]
    assert channel not in await disallowed(live)

    confirmed = await live.submit_dialog(admin, opened, "town-square")
    assert confirmed.status_code == 200, confirmed.text
    assert channel in await disallowed(live)
    assert await filter_changes(live) == changes + 1

    replayed = await live.http.post(
        f"{live.url}/api/mattermost/dialog",
        json={
            "type": "dialog_submission",
            "state": opened["dialog"]["state"],
            "user_id": admin.id,
            "channel_id": channel,
            "submission": {},
        },
    )
    assert replayed.status_code == 403 and "already" in replayed.json()["error"]
    again = await live.submit_dialog(admin, opened, "town-square")
    assert again.status_code == 400, again.text
    assert await filter_changes(live) == changes + 1

    # Tidy up through the same confirmation, as the admin would.
    allowed = await live.meet_confirmed(admin, "town-square", "admin allow")
    assert allowed.status_code == 200, allowed.text
    assert channel not in await disallowed(live)


async def test_a_hostile_dialog_submission_is_refused_with_a_4xx(live: LiveMeetbridge) -> None:
    url = f"{live.url}/api/mattermost/dialog"
    for body in (b"{oops", b"[]", b'{"state": 5}', b'{"state": "x.y", "user_id": "u"}'):
        response = await live.http.post(url, content=body)
        assert 400 <= response.status_code < 500, body
    for state in ("abc.def", "é.é", "\x00", "x" * 5000):
        forged = await live.http.post(
            url, json={"type": "dialog_submission", "state": state, "user_id": "u" * 26}
        )
        assert forged.status_code == 403, state
        assert "not valid" in forged.json()["error"]
    assert (await live.http.post(url, json={"cancelled": True, "state": ""})).status_code == 200


async def test_the_admin_buttons_from_a_forged_reply_change_nothing(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    """The forged ``/meet admin`` reply carries the admin's signed Allow/Disallow buttons; a
    click made up from them must still be confirmed by the admin."""
    admin, channel = mattermost.admin, mattermost.channels["town-square"]
    reply = await forged_command(live, admin, "town-square", "admin", None)
    (disallow,) = [
        action["integration"]["context"]
        for action in reply["attachments"][0]["actions"]
        if action["name"] == "Disallow"
    ]
    before = await disallowed(live), await filter_changes(live)
    async with live.dialogs_of(admin) as victim:
        for trigger in (None, "x", made_up_trigger(admin)):
            click: dict[str, Any] = {
                "user_id": admin.id,
                "channel_id": channel,
                "post_id": "",
                "context": disallow,
            }
            if trigger is not None:
                click["trigger_id"] = trigger
            response = await live.http.post(f"{live.url}/api/mattermost/action", json=click)
            assert response.status_code == 200, response.text
            assert "confirm" in response.json()["ephemeral_text"], trigger
        assert victim.opened == []
    assert (await disallowed(live), await filter_changes(live)) == before


def made_up_trigger(user: Account) -> str:
    """A trigger id in Mattermost's format, naming ``user``, that Mattermost never signed."""
    return base64.b64encode(f"{'c' * 26}:{user.id}:1764470000000:MEUCIQ==".encode()).decode()
