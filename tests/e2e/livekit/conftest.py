"""Real LiveKit servers for these tests (see tests/support/livekit_fixtures.py)."""

from tests.support.livekit_fixtures import (  # noqa: F401 (fixtures)
    livekit_binary,
    livekit_cluster,
    livekit_server,
    livekit_webhooks,
    redis_server,
    room_name,
    room_service,
)
