"""Every route, any method, junk query strings, repeated and odd headers: never a 5xx, and a
refusal says what was wrong and changes nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import bodies, header_value, hostile_bytes, junk_query

ROUTES = [
    "/healthz",
    "/metrics",
    "/api/pexip/policy/v1/service/configuration",
    "/api/pexip/policy/v1/participant/properties",
    "/api/pexip/event_sink",
    "/api/mattermost/command",
    "/api/mattermost/action",
    "/api/zoom/webhook",
    "/api/plugin/meeting",
    "/api/plugin/meetings",
    "/api/plugin/ring",
    "/join/x.y",
    "/meet/abc",
    "/oauth/mattermost/callback",
    "/zoom/oauth/start",
    "/zoom/oauth/callback",
    "/admin",
    "/admin/login",
    "/admin/logout",
    "/admin/settings",
    "/admin/pexip",
    "/admin/pexip/regenerate",
    "/admin/channels",
    "/admin/channels/refresh",
    "/admin/meetings",
    "/admin/audit",
    "/static/meeting/none.js",
    "/nowhere",
]
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW", "get"]
HEADER_NAMES = [b"authorization", b"cookie", b"content-type", b"origin", b"content-length"]


def test_any_route_any_method_is_answered_without_failing(world: World) -> None:
    @HOSTILE
    @given(
        path=st.sampled_from(ROUTES),
        method=st.sampled_from(METHODS),
        query=junk_query,
        # Names repeat on purpose: two Authorization or Cookie headers, say.
        headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=4),
        body=bodies(hostile_bytes()),
    )
    def check(
        path: str, method: str, query: bytes, headers: list[Header], body: list[bytes]
    ) -> None:
        world.harness.exchange(RawRequest(method, path, query, tuple(headers), tuple(body)))

    check()
