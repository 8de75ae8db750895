"""Following Mattermost's WebSocket to keep the channel, user and membership caches fresh.

Renames, archives, restores and membership changes update the cache the moment they happen,
so policy answers and join checks see them without waiting for a TTL. The listener reconnects
with jittered back-off and resumes with ``connection_id`` and ``sequence_number``; when the
server answers with a different connection id, events were lost while disconnected, and the
caches are dropped (resynchronised from the REST API on next use).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import structlog
import websockets
from websockets.asyncio.client import ClientConnection

from meetbridge.chat.mattermost.directory import MattermostDirectory
from meetbridge.chat.mattermost.models import channel_from_json
from meetbridge.domain.ids import ChannelId, UserId

log = structlog.get_logger(__name__)

_CHANNEL_CHANGES = {"channel_updated", "channel_converted", "channel_restored", "channel_created"}
_MEMBERSHIP_CHANGES = {"user_added", "user_removed", "channel_member_updated"}


class WebSocketListener:
    def __init__(
        self,
        base_url: str,
        token: str,
        directory: MattermostDirectory,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        #: Told (channel, user) when Mattermost reports a user removed from a channel.
        self.on_membership_lost: Callable[[ChannelId, UserId], None] | None = None
        self._url = base_url.replace("https://", "wss://").replace("http://", "ws://")
        self._url += "/api/v4/websocket"
        self._token = token
        self._directory = directory
        self.on_event = on_event
        self._connection_id = ""
        self._sequence = -1
        self.connected = asyncio.Event()
        self.resyncs = 0

    async def run(self, max_delay: float = 60.0) -> None:
        delay = 1.0
        while True:
            try:
                async with websockets.connect(
                    self._resume_url(),
                    additional_headers={"Authorization": f"Bearer {self._token}"},
                    ping_interval=30,
                    ping_timeout=20,
                    open_timeout=10,
                ) as connection:
                    delay = 1.0
                    await self._listen(connection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("mattermost.websocket_down", error=repr(exc), retry_in=round(delay, 1))
            self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311
            delay = min(max_delay, delay * 2)

    def _resume_url(self) -> str:
        if not self._connection_id:
            return self._url
        return f"{self._url}?connection_id={self._connection_id}&sequence_number={self._sequence}"

    async def _listen(self, connection: ClientConnection) -> None:
        async for raw in connection:
            message = orjson.loads(raw)
            if not isinstance(message, dict) or "event" not in message:
                continue  # replies to our own actions
            self._sequence = int(message.get("seq", self._sequence))
            event = str(message["event"])
            data = message.get("data") or {}
            if event == "hello":
                self._hello(data)
            else:
                self.handle(event, data, message.get("broadcast") or {})
            if self.on_event is not None:
                self.on_event(event, data)

    def _hello(self, data: dict[str, Any]) -> None:
        connection_id = str(data.get("connection_id", ""))
        if connection_id != self._connection_id:
            if self._connection_id:
                # A new connection: the server could not replay what we missed.
                self._directory.forget_all()
                self.resyncs += 1
                log.info("mattermost.websocket_resync")
            self._connection_id = connection_id
        self.connected.set()

    def handle(self, event: str, data: dict[str, Any], broadcast: dict[str, Any]) -> None:
        """Apply one event to the caches (public for tests)."""
        if event in _CHANNEL_CHANGES:
            channel = _decoded(data.get("channel"))
            if isinstance(channel, dict) and channel.get("id"):
                self._directory.channels.put(ChannelId(channel["id"]), channel_from_json(channel))
            else:
                channel_id = data.get("channel_id") or broadcast.get("channel_id")
                if channel_id:
                    self._directory.channels.invalidate(ChannelId(channel_id))
        elif event == "channel_deleted":
            channel_id = str(data.get("channel_id", ""))
            cached = self._directory.channels.peek(ChannelId(channel_id))
            if cached is not None:
                self._directory.channels.put(ChannelId(channel_id), replace(cached, archived=True))
            else:
                self._directory.channels.invalidate(ChannelId(channel_id))
        elif event in _MEMBERSHIP_CHANGES:
            channel_id = broadcast.get("channel_id") or data.get("channel_id") or ""
            user_id = data.get("user_id") or broadcast.get("user_id") or ""
            if channel_id and user_id:
                self._directory.forget_membership(channel_id, user_id)
                if event == "user_removed" and self.on_membership_lost is not None:
                    self.on_membership_lost(ChannelId(channel_id), UserId(user_id))
        elif event in ("user_updated", "user_role_updated"):
            user = _decoded(data.get("user"))
            user_id = user.get("id") if isinstance(user, dict) else data.get("user_id")
            if user_id:
                self._directory.users.invalidate(UserId(user_id))


def _decoded(value: Any) -> Any:
    """Object-valued event data often arrives as a JSON string to decode again."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value
