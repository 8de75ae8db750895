"""Acting in Mattermost as its users do: running /meet, seeing and submitting dialogs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import websockets

from tests.e2e.mattermost.bootstrap import Account, MattermostWorld


@dataclass
class DialogWatch:
    """The ``open_dialog`` events Mattermost pushes to one user's WebSocket (their clients)."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The open-dialog request (trigger_id, url, dialog) of the next dialog shown."""
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()
        return self.opened[-1]


@dataclass
class MattermostUsers:
    """The bootstrap's users, acting through Mattermost's own API (which calls meetbridge)."""

    world: MattermostWorld

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

    @contextlib.asynccontextmanager
    async def dialogs_of(self, user: Account) -> AsyncIterator[DialogWatch]:
        """Listen on ``user``'s own Mattermost WebSocket for the dialogs opened for them."""
        watch = DialogWatch()
        url = self.world.url.replace("http://", "ws://") + "/api/v4/websocket"
        headers = {"Authorization": f"Bearer {user.token}"}
        async with websockets.connect(url, additional_headers=headers) as ws:
            hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["event"] == "hello"

            async def listen() -> None:
                async for message in ws:
                    event = orjson.loads(message)
                    if event.get("event") == "open_dialog":
                        watch.opened.append(orjson.loads(event["data"]["dialog"]))
                        watch.arrived.set()

            listener = asyncio.create_task(listen())
            try:
                yield watch
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def submit_dialog(
        self,
        user: Account,
        opened: dict[str, Any],
        channel: str,
        submission: dict[str, Any] | None = None,
    ) -> httpx2.Response:
        """Submit a dialog as ``user``'s client does: through Mattermost, which names the user."""
        async with self.world.client(user) as api:
            return await api.post(
                "/actions/dialogs/submit",
                json={
                    "url": opened["url"],
                    "callback_id": opened["dialog"].get("callback_id", ""),
                    "state": opened["dialog"].get("state", ""),
                    "channel_id": self.world.channels.get(channel, channel),
                    "team_id": self.world.team_id,
                    "submission": submission or {},
                    "cancelled": False,
                },
            )

    async def meet_confirmed(
        self,
        user: Account,
        channel: str,
        text: str,
        submission: dict[str, Any] | None = None,
    ) -> httpx2.Response:
        """Run a /meet that changes something, and confirm it in the dialog it opens."""
        async with self.dialogs_of(user) as dialogs:
            answer = await self.meet(user, channel, text)
            try:
                opened = await dialogs.next()
            except TimeoutError:
                raise AssertionError(f"no dialog opened; the command answered {answer}") from None
        return await self.submit_dialog(user, opened, channel, submission)
