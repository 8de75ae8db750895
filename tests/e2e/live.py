"""meetbridge running for real (uvicorn on a loopback port) against the real Mattermost server,
with helpers to act as Infinity and as Mattermost users."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2
import uvicorn

from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.domain.aliases import channel_from_alias
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.services.join import JOIN_PURPOSE
from meetbridge.web.app import Components, MeetbridgeApp, create_app
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.e2e.mattermost.users import DialogWatch, MattermostUsers
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.livekit import LiveKitServer
from tests.support.ports import free_port

SIGN_IN_CALLBACK = "/oauth/mattermost/callback"


@dataclass
class Joined:
    """A participant the simulated Infinity has connected."""

    uuid: str
    name: str
    alias: str
    pin: str
    role: str = "chair"


@dataclass
class LiveMeetbridge:
    app: MeetbridgeApp
    url: str
    world: MattermostWorld
    node: InfinityNode = field(default_factory=lambda: InfinityNode("10.20.0.11"))
    http: httpx2.AsyncClient = field(default_factory=lambda: httpx2.AsyncClient(timeout=30.0))
    started: set[str] = field(default_factory=set)
    browsers: dict[str, httpx2.AsyncClient] = field(default_factory=dict)  # by user id
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
        return await MattermostUsers(self.world).meet(user, channel, text)

    def dialogs_of(self, user: Account) -> contextlib.AbstractAsyncContextManager[DialogWatch]:
        return MattermostUsers(self.world).dialogs_of(user)

    async def submit_dialog(
        self,
        user: Account,
        opened: dict[str, Any],
        channel: str,
        submission: dict[str, Any] | None = None,
    ) -> httpx2.Response:
        return await MattermostUsers(self.world).submit_dialog(user, opened, channel, submission)

    async def meet_confirmed(
        self,
        user: Account,
        channel: str,
        text: str,
        submission: dict[str, Any] | None = None,
    ) -> httpx2.Response:
        return await MattermostUsers(self.world).meet_confirmed(user, channel, text, submission)

    async def link_for(self, channel: str, user: Account) -> str:
        """The join link a click on Join would lead to (issued directly)."""
        channel_id = ChannelId(self.world.channels.get(channel, channel))
        return await self.components.join.issue(channel_id, UserId(user.id))

    async def click(self, user: Account, post_id: str, action_id: str) -> httpx2.Response:
        async with self.world.client(user) as api:
            return await api.post(f"/posts/{post_id}/actions/{action_id}", json={})

    @contextlib.asynccontextmanager
    async def browser(self, user: Account) -> AsyncIterator[httpx2.AsyncClient]:
        """A browser signed in to Mattermost as ``user`` (it holds their session cookie)."""
        async with httpx2.AsyncClient(timeout=30.0) as browser:
            browser.cookies.set("MMAUTHTOKEN", user.token)
            yield browser

    async def open_in(self, browser: httpx2.AsyncClient, url: str) -> httpx2.Response:
        """Open a meetbridge link in ``browser``, going through Mattermost's sign-in where
        meetbridge asks for it (silent for its trusted app); the first answer after that."""
        response = await browser.get(url)
        while response.is_redirect:
            target = response.url.join(response.headers["location"])
            from_sign_in = response.url.path == "/oauth/mattermost/callback"
            if not (from_sign_in or target.path in ("/oauth/authorize", SIGN_IN_CALLBACK)):
                break
            response = await browser.get(target)
        return response

    async def open_link_as(self, url: str, user: Account) -> httpx2.Response:
        async with self.browser(user) as browser:
            return await self.open_in(browser, url)

    def account(self, user_id: str) -> Account:
        """A bootstrap account, or one a test module added under ``world.extra["accounts"]``."""
        added: dict[str, Account] = self.world.extra.get("accounts", {})
        everyone = [*self.world.users.values(), *added.values(), self.world.admin]
        return next(a for a in everyone if a.id == user_id)

    # --- acting as Infinity -------------------------------------------------------------

    def browser_of(self, user: Account) -> httpx2.AsyncClient:
        """The user's own browser for this test: it keeps meetbridge's identity cookie, as a
        real one does between clicks."""
        if user.id not in self.browsers:
            self.browsers[user.id] = httpx2.AsyncClient(timeout=30.0)
            self.browsers[user.id].cookies.set("MMAUTHTOKEN", user.token)
        return self.browsers[user.id]

    async def open_link(self, join_url: str) -> httpx2.Response:
        """Open a personal join link in the browser of the user it was made for."""
        user_id = self.components.join.link_user(join_url.rsplit("/", 1)[1])
        return await self.open_in(self.browser_of(self.account(user_id)), join_url)

    async def join(self, join_url: str, uuid: str) -> Joined:
        """What a browser and Infinity do with a join link: open it (Pexip's web app, whose link
        dials the member's own alias with the guest PIN), ask for the conference and then, after
        the PIN, for the participant's properties (policy requests), connect (events) as the
        answers made the participant: meetbridge says who it is and whether it is host."""
        response = await self.open_link(join_url)
        assert response.status_code == 302, response.text
        target = urlsplit(response.headers["location"])
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        dialled = unquote(target.path.split("/m/", 1)[1].split("/", 1)[0])
        service = await self.policy_answer(
            "service/configuration",
            self.node.service_configuration(dialled, remote_display_name=query["name"]),
        )
        alias, service_tag = service["result"]["name"], service["result"]["service_tag"]
        assert query["pin"] == service["result"]["guest_pin"]  # never one that makes a chair
        properties = await self.policy_answer(
            "participant/properties",
            self.node.participant_properties(
                alias, service_tag, remote_display_name=query["name"], local_alias=dialled
            ),
        )
        assert properties["action"] == "continue", properties
        made = properties["result"]
        events = []
        if alias not in self.started:
            self.started.add(alias)
            events.append(self.node.conference_started(alias, service_tag))
        events.append(
            self.node.participant_connected(
                alias,
                service_tag,
                uuid=uuid,
                display_name=made["remote_display_name"],
                role=made["preauthenticated_role"],
                call_tag=made.get("call_tag", ""),
            )
        )
        await self.deliver(*events)
        name, role = made["remote_display_name"], made["preauthenticated_role"]
        return Joined(uuid, name, alias, query["pin"], role)

    async def policy_answer(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        answer = await self.http.get(
            f"{self.url}/api/pexip/policy/v1/{path}", params=query, headers=self.auth
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def call_tag_of(self, join_url: str) -> str:
        """The call tag the meeting page gets from this join link."""
        token = urlsplit(join_url).path.rsplit("/", 1)[-1]
        claims = self.components.core.links.decode(token, JOIN_PURPOSE, time.time())
        signer = self.components.core.call_tags
        return make_call_tag(signer, ChannelId(claims["c"]), UserId(claims["u"]))

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
    world: MattermostWorld,
    data_dir: Any,
    wait_for_setup: bool = True,
    port: int | None = None,
    secret_key: str | None = None,
    pexip_transport: httpx2.AsyncBaseTransport | None = None,
    **settings: Any,
) -> tuple[LiveMeetbridge, uvicorn.Server, asyncio.Task[None]]:
    """meetbridge serving (on ``port``, known beforehand to whatever must call it back: a
    LiveKit server's webhooks); unless ``wait_for_setup`` is False, also registered in
    Mattermost, listening to its WebSocket and pointed at a Pexip node. ``secret_key``: the
    master key of an earlier start on the same ``data_dir`` (a restart). ``pexip_transport``:
    how meetbridge reaches a simulated Conferencing Node's client API (one trusting its
    certificate)."""
    port = port or free_port()
    config = ServiceConfig(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'meetbridge.db'}",
        secret_key=secret_key or base64.b64encode(generate_master_key()).decode(),
        public_url=f"http://127.0.0.1:{port}",
        mattermost_url=world.url,
        mattermost_token=world.bot.token,
        **settings,
    )
    app = create_app(config, pexip_transport=pexip_transport)
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
    await live.setting("default_engine", "pexip")  # these tests are about a Pexip install
    return live, server, task


async def stop_live(live: LiveMeetbridge, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 30)
    await live.http.aclose()
    for browser in live.browsers.values():
        await browser.aclose()


@contextlib.asynccontextmanager
async def live_on_own_livekit(
    world: MattermostWorld, livekit_binary: Path, data_dir: Path, **settings: Any
) -> AsyncIterator[tuple[LiveMeetbridge, LiveKitServer]]:
    """meetbridge on the LiveKit engine, with a livekit-server of its own whose webhooks reach
    it (as in production: no test forwards them)."""
    port = free_port()
    livekit = LiveKitServer(
        livekit_binary, webhook_urls=(f"http://127.0.0.1:{port}/api/livekit/webhook",)
    )
    livekit.start()
    try:
        live, server, task = await start_live(
            world,
            data_dir,
            port=port,
            livekit_url=livekit.ws_url,
            livekit_api_key=livekit.api_key.key,
            livekit_api_secret=livekit.api_key.secret,
            **settings,
        )
        try:
            await live.setting("default_engine", "livekit")
            yield live, livekit
        finally:
            await stop_live(live, server, task)
    finally:
        livekit.remove()
