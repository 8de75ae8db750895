"""Session fixtures for real LiveKit servers; import them into a conftest to use them.

One single-node server (webhooks to a session receiver) and one two-node cluster on a shared
Redis serve the whole session: tests isolate themselves by using their own room names.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from meetbridge.clock import SystemClock
from meetbridge.engines.livekit.rooms import RoomService, build_http_client
from tests.support.livekit import (
    ApiKey,
    LiveKitServer,
    RedisServer,
    WebhookReceiver,
    find_or_build_server,
)
from tests.support.requirements import require


@pytest.fixture(scope="session")
def livekit_binary() -> Path:
    binary = find_or_build_server()
    require(binary is not None, "livekit-server (Go to build it, or MEETBRIDGE_LIVEKIT_SERVER)")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def livekit_webhooks() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def livekit_server(
    livekit_binary: Path, livekit_webhooks: WebhookReceiver
) -> Iterator[LiveKitServer]:
    server = LiveKitServer(livekit_binary, webhook_urls=(livekit_webhooks.url,))
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    require(RedisServer.binary() is not None, "redis-server (Debian package redis-server)")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def livekit_cluster(
    livekit_binary: Path, redis_server: RedisServer
) -> Iterator[tuple[LiveKitServer, LiveKitServer]]:
    """Two nodes sharing one Redis and one API key, as a multi-node deployment runs them."""
    api_key = ApiKey.generate()
    nodes = tuple(
        LiveKitServer(livekit_binary, api_key=api_key, redis_address=redis_server.address)
        for _ in range(2)
    )
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.remove()


def room_service_for(server: LiveKitServer) -> RoomService:
    http = build_http_client(server.ws_url)
    return RoomService(http, server.api_key.key, server.api_key.secret, SystemClock())


@pytest.fixture
async def room_service(livekit_server: LiveKitServer) -> AsyncIterator[RoomService]:
    rooms = room_service_for(livekit_server)
    yield rooms
    await rooms.close()


@pytest.fixture
def room_name() -> str:
    """A room of this test's own on the shared servers (non-ASCII on purpose)."""
    return f"réunion-{uuid.uuid4().hex[:12]}"
