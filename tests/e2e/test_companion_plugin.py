"""The companion plugin on the real Mattermost: uploaded and enabled through the REST API,
configured through the config API, its routes closed to strangers, the signed channel working
both ways, and a meeting started through it giving the same card as ``/meet``."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
import websockets

from meetbridge.chat.mattermost.plugin_events import EVENTS_PATH, PLUGIN_ID
from meetbridge.domain.plugin_signature import signed_headers
from meetbridge.services.join import Refusal
from tests.e2e.live import LiveMeetbridge, eventually
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.e2e.mattermost.server import MattermostServer
from tests.e2e.test_meet_flows import card_of, fields
from tests.support.requirements import require

pytestmark = pytest.mark.mattermost

BUILD = Path(__file__).resolve().parents[2] / "plugin" / "build.sh"
RUNNING = 2  # model.PluginStateRunning


def build_bundle() -> Path:
    built = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, timeout=900, check=False
    )
    require(built.returncode == 0 or "go not found" not in built.stderr, "Go (plugin build)")
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def installed_plugin(mattermost: MattermostWorld) -> str:
    """The bundle, uploaded and enabled as an admin would (once per session)."""
    return install_bundle(mattermost)


def install_bundle(mattermost: MattermostWorld) -> str:
    """Upload and enable the plugin bundle on this Mattermost; returns the plugin's id."""
    bundle = build_bundle()
    with httpx2.Client(
        base_url=f"{mattermost.url}/api/v4",
        headers={"Authorization": f"Bearer {mattermost.admin.token}"},
        timeout=60.0,
    ) as api:
        with bundle.open("rb") as handle:
            uploaded = api.post(
                "/plugins",
                files={"plugin": (bundle.name, handle, "application/gzip")},
                data={"force": "true"},
            )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["id"] == PLUGIN_ID
        enabled = api.post(f"/plugins/{PLUGIN_ID}/enable")
        assert enabled.status_code == 200, enabled.text
        for _ in range(150):
            statuses = api.get("/plugins/statuses").json()
            ours = [s for s in statuses if s["plugin_id"] == PLUGIN_ID]
            if ours and ours[0]["state"] == RUNNING:
                return PLUGIN_ID
            time.sleep(0.2)
    raise AssertionError(f"the plugin did not start: {ours}")


async def patch_plugin_settings(
    world: MattermostWorld, settings: dict[str, str]
) -> httpx2.Response:
    async with world.client(world.admin) as api:
        return await api.put(
            "/config/patch", json={"PluginSettings": {"Plugins": {PLUGIN_ID: settings}}}
        )


@dataclass
class Companion:
    live: LiveMeetbridge
    secret: str
    base: str  # the plugin's routes on Mattermost

    async def as_user(
        self, user: Account | None, method: str, path: str, **kw: Any
    ) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {user.token}"} if user else {}
        async with httpx2.AsyncClient(timeout=30.0) as http:
            return await http.request(
                method, f"{self.base}{path}", headers={**headers, **kw.pop("headers", {})}, **kw
            )


@pytest.fixture
async def companion(live: LiveMeetbridge, installed_plugin: str) -> Companion:
    """The plugin pointed at this test's meetbridge, both sides holding a fresh secret."""
    secret = secrets.token_urlsafe(32)
    await live.components.admin.set_secret("plugin_shared_secret", secret, "test")
    await live.components.state.refresh()
    saved = await patch_plugin_settings(
        live.world, {"meetbridgeurl": live.url, "sharedsecret": secret}
    )
    assert saved.status_code == 200, saved.text
    chat = live.components.chat
    assert chat is not None
    # The plugin has the new settings once it accepts an event signed with the new secret.
    await eventually(
        lambda: chat.plugin_events.publish(
            "settings_check", {}, channel_id=live.world.channels["public"]
        )
    )
    return Companion(live, secret, f"{live.world.url}/plugins/{installed_plugin}")


@dataclass
class EventWatch:
    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def named(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                found = [e for e in self.events if e.get("event") == name]
                if found:
                    return found[0]
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def websocket_of(world: MattermostWorld, user: Account) -> AsyncIterator[EventWatch]:
    watch = EventWatch()
    url = world.url.replace("http://", "ws://") + "/api/v4/websocket"
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {user.token}"}
    ) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["event"] == "hello"

        async def listen() -> None:
            async for message in ws:
                watch.events.append(orjson.loads(message))
                watch.arrived.set()

        listener = asyncio.create_task(listen())
        try:
            yield watch
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


async def test_the_plugin_refuses_settings_with_a_bad_meetbridge_url(
    companion: Companion,
) -> None:
    world = companion.live.world
    for url in ("javascript:alert(1)", "ftp://meet.example.com", "https://u:p@meet.example.com"):
        refused = await patch_plugin_settings(
            world, {"meetbridgeurl": url, "sharedsecret": companion.secret}
        )
        # Mattermost names the hook that refused (the reason itself it shows only in dev mode).
        assert refused.status_code == 400, f"{url} was saved"
        assert refused.json()["id"] == "app.save_config.plugin_hook_error"
    short = await patch_plugin_settings(
        world, {"meetbridgeurl": companion.live.url, "sharedsecret": "short"}
    )
    assert short.status_code == 400
    assert short.json()["id"] == "app.save_config.plugin_hook_error"
    async with world.client(world.admin) as api:
        stored = (await api.get("/config")).json()["PluginSettings"]["Plugins"][PLUGIN_ID]
    assert stored["meetbridgeurl"] == companion.live.url  # nothing bad was stored


async def test_the_plugins_user_routes_refuse_calls_without_a_signed_in_user(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    body = {"channel_id": mattermost.channels["public"]}
    for user, headers in ((None, {}), (None, {"Mattermost-User-Id": alice.id})):
        status = await companion.as_user(user, "GET", "/api/v1/status", headers=headers)
        assert status.status_code == 401, status.text
        meeting = await companion.as_user(
            user, "POST", "/api/v1/meeting", json=body, headers=headers
        )
        assert meeting.status_code == 401, meeting.text
    signed_in = await companion.as_user(alice, "GET", "/api/v1/status")
    assert signed_in.status_code == 200 and signed_in.json() == {"configured": True}


async def test_meetbridges_signed_events_reach_the_channels_clients_and_forgeries_do_not(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    alice, public = mattermost.users["alice"], mattermost.channels["public"]
    chat = companion.live.components.chat
    assert chat is not None
    body = orjson.dumps({"event": "forged", "data": {}, "channel_id": public})
    wrong = signed_headers(companion.secret + "x", "POST", EVENTS_PATH, "", body, 0.0)
    async with websocket_of(mattermost, alice) as watch:
        unsigned = await companion.as_user(None, "POST", EVENTS_PATH, content=body)
        forged = await companion.as_user(None, "POST", EVENTS_PATH, content=body, headers=wrong)
        as_alice = await companion.as_user(
            alice,
            "POST",
            EVENTS_PATH,
            content=body,
            headers=signed_headers(companion.secret, "POST", EVENTS_PATH, "", body, time.time()),
        )
        assert (unsigned.status_code, forged.status_code, as_alice.status_code) == (401, 401, 401)
        assert await chat.plugin_events.publish(
            "meeting_state", {"state": "started", "topic": "Review"}, channel_id=public
        )
        event = await watch.named(f"custom_{PLUGIN_ID}_meeting_state")
        assert event["data"] == {"state": "started", "topic": "Review"}
        assert event["broadcast"]["channel_id"] == public
        assert not [e for e in watch.events if e.get("event") == f"custom_{PLUGIN_ID}_forged"]


async def test_a_meeting_started_through_the_plugin_gives_the_same_card_as_meet(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    alice, live = mattermost.users["alice"], companion.live
    answer = await companion.as_user(
        alice,
        "POST",
        "/api/v1/meeting",
        json={"channel_id": mattermost.channels["public"], "topic": "Sprint review"},
    )
    assert answer.status_code == 200, answer.text
    join_url = answer.json()["join_link"]
    assert join_url.startswith(f"{live.url}/join/")
    assert live.components.join.link_user(join_url.rsplit("/", 1)[1]) == alice.id
    joined = await live.join(join_url, "alice-plugin-1")
    assert joined.name == "alice"
    await live.settle()
    card = await eventually(lambda: card_of(live, "public", "STARTED"))
    # What test_meet_takes_the_user_to_the_meeting_and_the_card_follows sees after /meet.
    assert card["message"] == "alice started a video meeting: Sprint review."
    assert fields(card)["Started by"] == "alice"
    assert fields(card)["Engine"] == "Pexip Infinity"
    assert fields(card)["In the meeting (1)"] == "alice"
    actions = card["props"]["attachments"][0]["actions"]
    assert [a["name"] for a in actions] == ["Join", "Leave", "End"]


async def test_with_notifications_off_the_sidebar_still_follows_a_meeting_that_has_no_card(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    alice, live, public = mattermost.users["alice"], companion.live, mattermost.channels["public"]
    await live.setting("show_notifications", False)
    state_event = f"custom_{PLUGIN_ID}_meeting_state"
    async with websocket_of(mattermost, alice) as watch:
        answer = await companion.as_user(
            alice, "POST", "/api/v1/meeting", json={"channel_id": public}
        )
        assert answer.status_code == 200, answer.text
        joined = await live.join(answer.json()["join_link"], "alice-quiet-1")
        await live.settle()
        started = await watch.named(state_event)
        assert started["broadcast"]["channel_id"] == public
        assert (started["data"]["status"], started["data"]["participants"]) == ("STARTED", 1)
        watch.events.clear()
        await live.leave(joined)
        await live.end(joined.alias)
        await live.settle()

        async def ended() -> bool:
            states = [e["data"] for e in watch.events if e.get("event") == state_event]
            return bool(states) and states[-1]["status"] == "ENDED"

        await eventually(ended, timeout=10)
    assert await card_of(live, "public") is None, "notifications are off: no card"


async def test_the_plugin_route_applies_the_same_membership_check_as_meet(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    dave, private = mattermost.users["dave"], mattermost.channels["private"]
    through_plugin = await companion.as_user(
        dave, "POST", "/api/v1/meeting", json={"channel_id": private}
    )
    # Mattermost itself keeps /meet out of a channel dave is not in; through the plugin it is
    # meetbridge's membership check (JoinService.check, as for /meet and join links) that holds.
    assert through_plugin.status_code == 403
    assert through_plugin.json()["error"] == Refusal.NOT_MEMBER.value


async def test_a_bad_url_that_bypasses_the_save_hook_leaves_the_plugin_unconfigured(
    companion: Companion, mattermost: MattermostWorld, mattermost_server: MattermostServer
) -> None:
    """An admin editing config.json by hand skips ConfigurationWillBeSaved; on reload the
    plugin's OnConfigurationChange refuses the URL and talks to nobody instead."""
    alice, public = mattermost.users["alice"], mattermost.channels["public"]
    config_file = mattermost_server.run_dir / "config" / "config.json"
    stored = orjson.loads(config_file.read_bytes())
    stored["PluginSettings"]["Plugins"][PLUGIN_ID]["meetbridgeurl"] = "javascript:alert(1)"
    config_file.write_bytes(orjson.dumps(stored))
    try:
        async with mattermost.client(mattermost.admin) as api:
            reloaded = await api.post("/config/reload")
        assert reloaded.status_code == 200, reloaded.text
        status = await companion.as_user(alice, "GET", "/api/v1/status")
        assert status.json() == {"configured": False}
        refused = await companion.as_user(
            alice, "POST", "/api/v1/meeting", json={"channel_id": public}
        )
        assert refused.status_code == 503
        assert refused.json()["error"] == "the meetbridge plugin is not configured"
    finally:
        restored = await patch_plugin_settings(
            mattermost, {"meetbridgeurl": companion.live.url, "sharedsecret": companion.secret}
        )
        assert restored.status_code == 200, restored.text
    working = await companion.as_user(alice, "GET", "/api/v1/status")
    assert working.json() == {"configured": True}


async def test_a_plugin_with_another_secret_is_refused_by_meetbridge_and_says_so(
    companion: Companion, mattermost: MattermostWorld
) -> None:
    alice, live = mattermost.users["alice"], companion.live
    await live.components.admin.set_secret("plugin_shared_secret", secrets.token_urlsafe(32), "t")
    await live.components.state.refresh()
    answer = await companion.as_user(
        alice, "POST", "/api/v1/meeting", json={"channel_id": mattermost.channels["public"]}
    )
    assert answer.status_code == 502
    assert "same shared secret" in answer.json()["error"]
    chat = live.components.chat
    assert chat is not None
    # And the other way: the plugin refuses meetbridge's events signed with the new secret.
    assert not await chat.plugin_events.publish(
        "meeting_state", {}, channel_id=mattermost.channels["public"]
    )


def plugin_processes(server: MattermostServer) -> list[str]:
    """Running plugin executables of this server (its run directory is in their path)."""
    found = subprocess.run(
        ["pgrep", "-f", f"{server.run_dir}/plugins/{PLUGIN_ID}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


async def test_a_crashed_mattermost_leaves_no_plugin_process_behind_and_restarts_it(
    installed_plugin: str, mattermost: MattermostWorld, mattermost_server: MattermostServer
) -> None:
    assert plugin_processes(mattermost_server), "the plugin is not running"
    await asyncio.to_thread(mattermost_server.kill)
    assert plugin_processes(mattermost_server) == []
    await asyncio.to_thread(mattermost_server.start)
    alice = mattermost.users["alice"]
    async with httpx2.AsyncClient(timeout=30.0) as http:

        async def answering() -> bool:
            status = await http.get(
                f"{mattermost.url}/plugins/{installed_plugin}/api/v1/status",
                headers={"Authorization": f"Bearer {alice.token}"},
            )
            return status.status_code == 200

        await eventually(answering)
    assert len(plugin_processes(mattermost_server)) == 1
