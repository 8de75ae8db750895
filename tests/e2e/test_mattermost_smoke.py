"""The Mattermost test server is real and usable for what meetbridge does with it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
import websockets

from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.ports import free_port

pytestmark = pytest.mark.mattermost


class Integration:
    """A small local HTTP endpoint standing in for an integration: records and answers."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((self.path, dict(self.headers), body))
                payload = orjson.dumps(owner.answer)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def integration() -> Iterator[Integration]:
    endpoint = Integration({"response_type": "in_channel", "text": "pong from the integration"})
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


async def test_a_user_posts_and_reads_back(mattermost: MattermostWorld) -> None:
    channel = mattermost.channels["public"]
    async with mattermost.client(mattermost.users["alice"]) as alice:
        created = await alice.post(
            "/posts", json={"channel_id": channel, "message": "hello from alice"}
        )
        assert created.status_code == 201
        post_id = created.json()["id"]
        read = await alice.get(f"/posts/{post_id}")
        assert read.json()["message"] == "hello from alice"
        assert read.json()["user_id"] == mattermost.users["alice"].id


async def test_the_bot_posts_in_channels_and_conversations(mattermost: MattermostWorld) -> None:
    async with mattermost.client(mattermost.bot) as bot:
        me = (await bot.get("/users/me")).json()
        assert me["is_bot"] is True and "system_admin" in me["roles"]
        for name in ("public", "private", "dm", "gm"):
            created = await bot.post(
                "/posts",
                json={"channel_id": mattermost.channels[name], "message": f"bot in {name}"},
            )
            assert created.status_code == 201, (name, created.text)
    async with mattermost.client(mattermost.users["bob"]) as bob:
        posts = (await bob.get(f"/channels/{mattermost.channels['dm']}/posts")).json()
        assert any(p["message"] == "bot in dm" for p in posts["posts"].values())


async def test_the_bootstrap_made_what_the_tests_need(mattermost: MattermostWorld) -> None:
    async with mattermost.client(mattermost.admin) as admin:
        archived = (await admin.get(f"/channels/{mattermost.channels['archived']}")).json()
        assert archived["delete_at"] > 0
        kinds = {
            name: (await admin.get(f"/channels/{cid}")).json()["type"]
            for name, cid in mattermost.channels.items()
        }
        assert kinds == {
            "town-square": "O",
            "public": "O",
            "private": "P",
            "disallowed": "O",
            "archived": "O",
            "dm": "D",
            "gm": "G",
        }
        dave = (await admin.get(f"/users/{mattermost.users['dave'].id}")).json()
        assert (dave["nickname"], dave["first_name"], dave["last_name"]) == ("", "", "")
        alice = (await admin.get(f"/users/{mattermost.users['alice'].id}")).json()
        assert (alice["nickname"], alice["first_name"], alice["last_name"]) == (
            "Ali",
            "Alice",
            "Archer",
        )


async def test_a_slash_command_calls_a_local_endpoint(
    mattermost: MattermostWorld, integration: Integration
) -> None:
    channel = mattermost.channels["public"]
    async with mattermost.client(mattermost.admin) as admin:
        command = await admin.post(
            "/commands",
            json={
                "team_id": mattermost.team_id,
                "trigger": f"smoke{integration.port}",
                "url": integration.url,
                "method": "P",
                "auto_complete": True,
            },
        )
        assert command.status_code == 201, command.text
        token = command.json()["token"]
    async with mattermost.client(mattermost.users["carol"]) as carol:
        executed = await carol.post(
            "/commands/execute",
            json={"channel_id": channel, "command": f"/smoke{integration.port} ping"},
        )
        assert executed.status_code == 200, executed.text
        posts = (await carol.get(f"/channels/{channel}/posts", params={"per_page": 5})).json()
    ((_, headers, body),) = integration.requests
    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    assert form["token"] == token and form["user_name"] == "carol" and form["text"] == "ping"
    assert headers["Authorization"] == f"Token {token}"
    messages = [posts["posts"][pid]["message"] for pid in posts["order"]]
    assert "pong from the integration" in messages


async def test_a_button_click_calls_its_integration(
    mattermost: MattermostWorld, integration: Integration
) -> None:
    integration.answer = {"ephemeral_text": "clicked"}
    channel = mattermost.channels["public"]
    attachment = {
        "text": "Meeting",
        "actions": [
            {
                "id": "join",
                "name": "Join",
                "type": "button",
                "integration": {"url": integration.url, "context": {"secret": "s3cr3t"}},
            }
        ],
    }
    async with mattermost.client(mattermost.bot) as bot:
        post = (
            await bot.post(
                "/posts",
                json={
                    "channel_id": channel,
                    "message": "card",
                    "props": {"attachments": [attachment]},
                },
            )
        ).json()
    async with mattermost.client(mattermost.users["bob"]) as bob:
        shown = (await bob.get(f"/posts/{post['id']}")).json()
        assert "context" not in str(shown["props"])  # clients never see the context
        clicked = await bob.post(f"/posts/{post['id']}/actions/join", json={})
        assert clicked.status_code == 200, clicked.text
    ((_, _, body),) = integration.requests
    request = orjson.loads(body)
    assert request["user_id"] == mattermost.users["bob"].id
    assert request["post_id"] == post["id"] and request["channel_id"] == channel
    assert request["context"] == {"secret": "s3cr3t"}


async def test_a_websocket_client_receives_posted(mattermost: MattermostWorld) -> None:
    ws_url = mattermost.url.replace("http://", "ws://") + "/api/v4/websocket"
    headers = {"Authorization": f"Bearer {mattermost.bot.token}"}
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["event"] == "hello" and hello["data"]["connection_id"]
        async with mattermost.client(mattermost.users["alice"]) as alice:
            await alice.post(
                "/posts",
                json={"channel_id": mattermost.channels["public"], "message": "over the websocket"},
            )
        while True:
            event = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("event") == "posted":
                post = orjson.loads(event["data"]["post"])
                if post["message"] == "over the websocket":
                    break
