"""meetbridge speaks each reader's Mattermost language: German for a user whose locale is "de",
English for everyone else; posts many people read (meeting cards) use the server's default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import PASSWORD, Account, MattermostWorld, login
from tests.e2e.test_meet_flows import card_of, fields
from tests.e2e.test_meet_ringing_status import custom_status, ring_of, start_call

pytestmark = pytest.mark.mattermost


@pytest.fixture(scope="module")
def german(mattermost: MattermostWorld) -> Iterator[Account]:
    """A member of the team and of the public channel whose Mattermost language is German."""
    import httpx2

    with httpx2.Client(
        base_url=f"{mattermost.url}/api/v4",
        headers={"Authorization": f"Bearer {mattermost.admin.token}"},
        timeout=30.0,
    ) as api:
        created = api.post(
            "/users",
            json={"email": "greta@example.com", "username": "greta", "password": PASSWORD},
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        team = f"/teams/{mattermost.team_id}/members"
        assert api.post(team, json={"team_id": mattermost.team_id, "user_id": user_id}).is_success
        channel = f"/channels/{mattermost.channels['public']}/members"
        assert api.post(channel, json={"user_id": user_id}).is_success
        patched = api.put(f"/users/{user_id}/patch", json={"locale": "de"})
        assert patched.status_code == 200 and patched.json()["locale"] == "de", patched.text
    greta = Account(user_id, "greta", login(mattermost.url, "greta"))
    accounts = mattermost.extra.setdefault("accounts", {})
    accounts["greta"] = greta  # so that the live harness can open her join links
    yield greta
    accounts.pop("greta", None)


@pytest.fixture
async def german_server(mattermost: MattermostWorld) -> AsyncIterator[None]:
    """The server's default language set to German for one test, then back to English."""

    async def default_locale(locale: str) -> None:
        async with mattermost.client(mattermost.admin) as api:
            settings = {"DefaultClientLocale": locale, "DefaultServerLocale": locale}
            answer = await api.put("/config/patch", json={"LocalizationSettings": settings})
            assert answer.status_code == 200, answer.text

    await default_locale("de")
    try:
        yield
    finally:
        await default_locale("en")


async def direct_channel(world: MattermostWorld, *users: Account) -> str:
    async with world.client(world.admin) as api:
        path = "/channels/direct" if len(users) == 2 else "/channels/group"
        created = await api.post(path, json=[user.id for user in users])
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def status_is(world: MattermostWorld, user: Account, text: str) -> bool:
    return await custom_status(world, user) == text


def button_names(post: dict[str, Any]) -> list[str]:
    return [action["name"] for action in post["props"]["attachments"][0].get("actions", [])]


async def test_meet_help_is_german_for_a_german_user_and_english_for_others(
    live: LiveMeetbridge, mattermost: MattermostWorld, german: Account
) -> None:
    german_help = await live.meet(german, "public", "help")
    assert german_help["text"].startswith("**/meet** — Videobesprechungen in diesem Kanal")
    assert "`/meet status` — wer in der Besprechung ist und seit wann" in german_help["text"]
    unknown = await live.meet(german, "public", "tanzen")
    assert unknown["text"].startswith("`tanzen` ist kein /meet-Befehl.")

    english_help = await live.meet(mattermost.users["bob"], "public", "help")
    assert english_help["text"].startswith("**/meet** — video meetings in this channel")
    assert "Videobesprechungen" not in english_help["text"]


async def test_ephemeral_replies_follow_the_locale_of_the_user_who_ran_the_command(
    live: LiveMeetbridge, mattermost: MattermostWorld, german: Account
) -> None:
    status = await live.meet(german, "public", "status")
    assert status["response_type"] == "ephemeral"
    assert (
        status["text"] == "In diesem Kanal läuft keine Besprechung. Starten Sie eine mit `/meet`."
    )
    link = await live.meet(german, "public", "link")
    assert link["text"].startswith(f"Link zur Besprechung dieses Kanals: {live.url}/meet/")

    english = await live.meet(mattermost.users["bob"], "public", "status")
    assert english["text"] == "No meeting is in progress in this channel. Start one with `/meet`."


async def test_the_card_a_german_user_starts_is_in_the_servers_language(
    live: LiveMeetbridge, mattermost: MattermostWorld, german: Account
) -> None:
    """The German user is told in German; the channel, read by many, gets the server's English."""
    answer = await live.meet(german, "public", "start Planung")
    assert answer["text"].startswith("Die Besprechung wird geöffnet…")
    joined = await live.join(answer["goto_location"], f"greta-card-{live.since_ms}")
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    assert card["message"] == "greta started a video meeting: Planung."
    assert button_names(card) == ["Join", "Leave", "End"]
    # Her own custom status is hers to read: German, and recognised as meetbridge's on leaving.
    assert await eventually(lambda: status_is(mattermost, german, "In einer Videokonferenz"))
    await live.leave(joined)
    await live.settle()
    assert await eventually(lambda: status_is(mattermost, german, ""))


async def test_cards_use_the_servers_default_language_when_it_is_german(
    live: LiveMeetbridge, mattermost: MattermostWorld, german_server: None
) -> None:
    alice = mattermost.users["alice"]
    answer = await live.meet(alice, "public", "start Review")
    await live.join(answer["goto_location"], f"alice-de-card-{live.since_ms}")
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    assert card["message"] == "alice hat eine Videobesprechung gestartet: Review."
    assert fields(card)["Gestartet von"] == "alice"
    assert fields(card)["In der Besprechung (1)"] == "alice"
    assert button_names(card) == ["Teilnehmen", "Verlassen", "Beenden"]
    # What programs read stays as it was, whatever the language.
    assert card["props"]["meeting_status"] == "STARTED"
    assert card["props"]["meeting_provider"] == "Pexip Infinity"
    # Alice chose English in her own settings: her reply stays English on a German server.
    status = await live.meet(alice, "public", "status")
    assert status["text"].startswith("A meeting (Review) has been running for")


async def test_a_german_callee_is_rung_in_german(
    live: LiveMeetbridge, mattermost: MattermostWorld, german: Account
) -> None:
    alice = mattermost.users["alice"]
    channel = await direct_channel(mattermost, alice, german)
    await start_call(live, alice, channel)
    ring = await eventually(lambda: ring_of(live, german, "ringing"))
    assert ring["message"] == ":telephone_receiver: **alice** ruft Sie an (Direktnachricht)."
    assert button_names(ring) == ["Teilnehmen", "Ignorieren"]
    assert ring["props"]["ring_state"] == "ringing"  # machine-read props are unchanged
    clicked = await live.click(german, ring["id"], "ringignore")
    assert clicked.status_code == 200, clicked.text
    await live.settle()
    ignored = await eventually(lambda: ring_of(live, german, "ignored"))
    assert ignored["message"] == (
        "Sie haben einen Anruf von **alice** ignoriert (Direktnachricht)."
    )


async def test_in_a_group_call_each_callee_is_rung_in_their_own_language(
    live: LiveMeetbridge, mattermost: MattermostWorld, german: Account
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    channel = await direct_channel(mattermost, alice, bob, german)
    await start_call(live, alice, channel)
    german_ring = await eventually(lambda: ring_of(live, german, "ringing"))
    english_ring = await eventually(lambda: ring_of(live, bob, "ringing"))
    assert german_ring["message"].startswith(":telephone_receiver: **alice** ruft Sie an (")
    assert "Gruppennachricht" in german_ring["message"]
    assert english_ring["message"].startswith(":telephone_receiver: **alice** is calling you (")
    assert "group message" in english_ring["message"]
    assert button_names(english_ring) == ["Join", "Ignore"]
