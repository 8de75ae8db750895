"""/meet in the first moments after meetbridge (re)registers it, on the real Mattermost server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from meetbridge.store import chat_repo
from tests.e2e.live import start_live, stop_live
from tests.e2e.mattermost.bootstrap import MattermostWorld

pytestmark = pytest.mark.mattermost

ROUNDS = 4


async def wait_until_mattermost_lists(
    world: MattermostWorld, command_url: str, timeout: float = 30.0
) -> None:
    """Poll Mattermost's own list of the team's commands until /meet points at ``command_url``."""
    deadline = time.monotonic() + timeout
    async with world.client(world.admin) as api:
        while time.monotonic() < deadline:
            listing = await api.get(
                "/commands", params={"team_id": world.team_id, "custom_only": "true"}
            )
            if any(c.get("url") == command_url for c in listing.json()):
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"Mattermost did not list {command_url} in {timeout}s")


@pytest.fixture(params=["database as usual", "database slow to store the token"])
def slow_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Mattermost lists the command before meetbridge has stored its token; with a slow database
    that window lasts long enough for any user to fall into it."""
    if request.param == "database as usual":
        return False
    save_command = chat_repo.save_command

    async def slow_save_command(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(1.5)
        await save_command(*args, **kwargs)

    monkeypatch.setattr(chat_repo, "save_command", slow_save_command)
    return True


async def test_meet_works_from_the_moment_mattermost_lists_the_command(
    mattermost: MattermostWorld, tmp_path: Path, slow_store: bool
) -> None:
    """Each round starts meetbridge afresh (new address, new database), waits only until
    Mattermost lists the command it registers, and runs /meet at once as a real user."""
    alice = mattermost.users["alice"]
    for round_number in range(ROUNDS):
        data_dir = tmp_path / f"round-{round_number}"
        data_dir.mkdir()
        live, server, task = await start_live(mattermost, data_dir, wait_for_setup=False)
        try:
            await wait_until_mattermost_lists(mattermost, f"{live.url}/api/mattermost/command")
            async with mattermost.client(alice) as api:
                response = await api.post(
                    "/commands/execute",
                    json={
                        "channel_id": mattermost.channels["public"],
                        "team_id": mattermost.team_id,
                        "command": "/meet help",
                    },
                )
            assert response.status_code == 200, f"round {round_number}: {response.text}"
            assert "/meet" in response.json()["text"]
        finally:
            await stop_live(live, server, task)


async def test_forged_tokens_stay_refused_and_ask_mattermost_at_most_once_a_second(
    mattermost: MattermostWorld, tmp_path: Path
) -> None:
    live, server, task = await start_live(mattermost, tmp_path, wait_for_setup=False)
    try:
        chat = live.components.chat
        assert chat is not None
        asked: list[float] = []
        request = chat.client.request

        async def counted(method: str, path: str, **kwargs: Any) -> Any:
            if (method, path) == ("GET", "/commands"):
                asked.append(time.monotonic())
            return await request(method, path, **kwargs)

        chat.client.request = counted  # type: ignore[method-assign]
        await wait_until_mattermost_lists(mattermost, f"{live.url}/api/mattermost/command")
        started = time.monotonic()
        asked.clear()  # meetbridge's own registration listed the commands before
        for attempt in range(30):
            forged = await live.http.post(
                f"{live.url}/api/mattermost/command",
                data={
                    "token": f"forged-{attempt:020d}",
                    "team_id": mattermost.team_id,
                    "user_id": mattermost.users["alice"].id,
                    "channel_id": mattermost.channels["public"],
                    "text": "start",
                },
            )
            assert forged.status_code == 401, forged.text
        elapsed = time.monotonic() - started
        assert 1 <= len(asked) <= int(elapsed) + 1, (len(asked), elapsed)
    finally:
        await stop_live(live, server, task)
