"""meetbridge running for real (uvicorn on a loopback port) against the real Mattermost server,
with helpers to act as Infinity and as Mattermost users."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import uvicorn

from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.domain.aliases import channel_from_alias
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web.app import Components, MeetbridgeApp, create_app
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.ports import free_port


@dataclass
class Joined:
    """A participant the simulated Infinity has connected."""

    uuid: str
    name: str
    alias: str
    pin: str


@dataclass
class LiveMeetbridge:
    app: MeetbridgeApp
    url: str
    world: MattermostWorld
    node: InfinityNode = field(default_factory=lambda: InfinityNode("10.20.0.11"))
    http: httpx2.AsyncClient = field(default_factory=lambda: httpx2.AsyncClient(timeout=30.0))
    started: set[str] = field(default_factory=set)
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def components(self) -> Components:
        return self.app.components

    @property
    def auth(self) -> dict[str, str]:
        creds = self.components.state.credentials
        assert creds is not None
        return basic_auth(creds.username, creds.password)

    async def setting(self, key: str, value: object) -> None:
        await self.components.admin.change_setting(key, value, "test")
        await self.components.state.refresh()

    # --- acting as a Mattermost user ----------------------------------------------------

    async def meet(self, user: Account, channel: str, text: str = "") -> dict[str, Any]:
        """Run /meet as a user through Mattermost's commands API; returns Mattermost's answer."""
        async with self.world.client(user) as api:
            response = await api.post(
                "/commands/execute",
                json={
                    "channel_id": self.world.channels.get(channel, channel),
                    "team_id": self.world.team_id,
                    "command": f"/meet {text}".strip(),
                },
            )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def link_for(self, channel: str, user: Account) -> str:
        """The join link a click on Join would lead to (issued directly)."""
        channel_id = ChannelId(self.world.channels.get(channel, channel))
        return await self.components.join.issue(channel_id, UserId(user.id))

    async def click(self, user: Account, post_id: str, action_id: str) -> httpx2.Response:
        async with self.world.client(user) as api:
            return await api.post(f"/posts/{post_id}/actions/{action_id}", json={})

    # --- acting as Infinity -------------------------------------------------------------

    async def open_link(self, join_url: str) -> httpx2.Response:
        return await self.http.get(join_url, follow_redirects=False)

    async def join(self, join_url: str, uuid: str) -> Joined:
        """What a browser and Infinity do with a join link when the web app is used: open it,
        dial the alias (policy request), connect (events)."""
        response = await self.open_link(join_url)
        assert response.status_code == 302, response.text
        target = urlsplit(response.headers["location"])
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        alias = target.path.split("/m/", 1)[1].split("/", 1)[0]
        policy = await self.http.get(
            f"{self.url}/api/pexip/policy/v1/service/configuration",
            params=self.node.service_configuration(alias, remote_display_name=query["name"]),
            headers=self.auth,
        )
        assert policy.status_code == 200, policy.text
        service = policy.json()["result"]
        assert service["pin"] == query["pin"]
        events = []
        if alias not in self.started:
            self.started.add(alias)
            events.append(self.node.conference_started(alias, service["service_tag"]))
        events.append(
            self.node.participant_connected(
                alias, service["service_tag"], uuid=uuid, display_name=query["name"]
            )
        )
        await self.deliver(*events)
        return Joined(uuid, query["name"], alias, query["pin"])

    async def leave(self, joined: Joined) -> None:
        tag = f"mattermost:{channel_from_alias(joined.alias, 'matt-')}"
        await self.deliver(self.node.participant_disconnected(joined.alias, tag, joined.uuid))

    async def end(self, alias: str) -> None:
        tag = f"mattermost:{channel_from_alias(alias, 'matt-')}"
        self.started.discard(alias)
        await self.deliver(self.node.conference_ended(alias, tag))

    async def deliver(self, *events: dict[str, Any]) -> None:
        publisher = SinkPublisher(self.http, f"{self.url}/api/pexip/event_sink", self.auth)
        await publisher.deliver(events)
        await self.components.applier.drain()

    # --- waiting for Mattermost to show the outcome -------------------------------------

    async def settle(self) -> None:
        """Apply pending events and deliver the outbox now."""
        await self.components.applier.drain()
        if self.components.chat is not None:
            await self.components.chat.outbox.drain()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, every: float = 0.2
) -> Any:
    """Poll ``check`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


async def start_live(
    world: MattermostWorld, data_dir: Any, wait_for_setup: bool = True, **settings: Any
) -> tuple[LiveMeetbridge, uvicorn.Server, asyncio.Task[None]]:
    """meetbridge serving; unless ``wait_for_setup`` is False, also registered in Mattermost,
    listening to its WebSocket and pointed at a Pexip node."""
    port = free_port()
    config = ServiceConfig(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'meetbridge.db'}",
        secret_key=base64.b64encode(generate_master_key()).decode(),
        public_url=f"http://127.0.0.1:{port}",
        mattermost_url=world.url,
        mattermost_token=world.bot.token,
        **settings,
    )
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("meetbridge did not start")
        await asyncio.sleep(0.05)
    live = LiveMeetbridge(app, f"http://127.0.0.1:{port}", world)
    chat = live.components.chat
    assert chat is not None
    if not wait_for_setup:
        return live, server, task
    await asyncio.wait_for(chat.setup.ready.wait(), 30)
    await asyncio.wait_for(chat.websocket.connected.wait(), 30)
    await live.setting("pexip_node", "pexip.example.com")
    return live, server, task


async def stop_live(live: LiveMeetbridge, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 30)
    await live.http.aclose()
