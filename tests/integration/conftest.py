"""Helpers for tests that drive the service like Infinity does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from meetbridge.domain.aliases import alias_for_channel, service_tag_for_channel
from meetbridge.domain.ids import ChannelId
from tests.conftest import RunningApp
from tests.support.infinity import InfinityNode
from tests.support.livekit_fixtures import (  # noqa: F401 (fixtures, started only when used)
    livekit_binary,
    livekit_server,
    livekit_webhooks,
    room_name,
    room_service,
)

SERVICE_CONFIGURATION = "/api/pexip/policy/v1/service/configuration"
PARTICIPANT_PROPERTIES = "/api/pexip/policy/v1/participant/properties"
EVENT_SINK = "/api/pexip/event_sink"


@pytest.fixture
def node() -> InfinityNode:
    return InfinityNode("10.20.0.11")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """meetbridge started with a umask that lets everyone read what it creates."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def alias(channel_id: str, prefix: str = "matt-") -> str:
    return alias_for_channel(prefix, ChannelId(channel_id))


def tag(channel_id: str) -> str:
    return service_tag_for_channel(ChannelId(channel_id))


async def policy(
    service: RunningApp, query: dict[str, str], path: str = SERVICE_CONFIGURATION
) -> Any:
    return await service.http.get(path, params=query, headers=service.auth)


async def post_events(service: RunningApp, *envelopes: dict[str, Any]) -> None:
    """Deliver events one at a time, as a node does, and insist each is acknowledged."""
    for envelope in envelopes:
        response = await service.http.post(EVENT_SINK, json=envelope, headers=service.auth)
        assert response.status_code == 200, response.text
