"""Hostile Authorization headers on GET /metrics when a bearer token is configured: a 401 that
says what was wrong, never a 5xx, never the metrics."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, METRICS_TOKEN, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import header_value, hostile_bytes, junk_query

TOKEN = METRICS_TOKEN.encode()


def authorizations() -> st.SearchStrategy[bytes]:
    near_misses = [
        TOKEN,
        b"Basic " + TOKEN,
        b"Bearer",
        b"Bearer ",
        b"Bearer " + TOKEN[:-1],
        b"Bearer " + TOKEN + b"x",
        b"Bearer " + TOKEN + b" " + TOKEN,
        b"Bearer " + TOKEN.upper(),
        b"Bearer\t" + TOKEN + b"\xe9",
    ]
    return st.one_of(
        header_value,
        st.sampled_from(near_misses),
        hostile_bytes().map(lambda b: b"Bearer " + b),
    )


def test_metrics_refuse_hostile_authorization_headers(world: World) -> None:
    @HOSTILE
    @given(authorization=authorizations(), query=junk_query, repeat=st.booleans())
    def check(authorization: bytes, query: bytes, repeat: bool) -> None:
        headers: list[Header] = [(b"authorization", authorization)]
        if repeat:  # a second header: whichever is read, it is not the token
            headers.append((b"authorization", b"Bearer nope"))
        request = RawRequest("GET", "/metrics", query, tuple(headers))
        reply = world.harness.exchange(request, refusal_expected=True)
        assert reply.status == 401 and "bearer token" in reply.message()
        assert (reply.header("www-authenticate") or "").startswith("Bearer")

    check()


def test_metrics_without_authorization_ask_for_the_bearer_token(world: World) -> None:
    reply = world.harness.exchange(RawRequest("GET", "/metrics"), refusal_expected=True)
    assert reply.status == 401 and "needs a bearer token" in reply.message()


def test_metrics_with_the_bearer_token_are_served(world: World) -> None:
    for header in (b"Bearer " + TOKEN, b"bearer  " + TOKEN + b" "):
        reply = world.harness.exchange(
            RawRequest("GET", "/metrics", b"", ((b"authorization", header),))
        )
        assert reply.status == 200 and b"# TYPE" in reply.body
