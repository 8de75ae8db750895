"""A smoke run of the event-sink properties on PostgreSQL, where types and text are stricter
(BIGINT bounds, no NUL in text) and a bad value fails the whole group commit."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import RawRequest
from tests.hostile.test_pexip import (
    bulk_envelopes,
    check_sink,
    single_envelopes,
    sink_request,
    valid_envelope,
)

pytestmark = pytest.mark.postgres

SMOKE = settings(HOSTILE, max_examples=max(10, HOSTILE.max_examples // 3))


def test_the_event_sink_on_postgresql_refuses_hostile_envelopes_cleanly(
    postgres_world: World,
) -> None:
    world = postgres_world

    @SMOKE
    @given(data=st.data(), bulk=st.booleans())
    def check(data: st.DataObject, bulk: bool) -> None:
        raw = data.draw(bulk_envelopes(world) if bulk else single_envelopes(world))
        check_sink(world, sink_request(world, [raw], []))

    check()


def test_valid_events_are_stored_on_postgresql(postgres_world: World) -> None:
    # The counterpart of the property above: the envelopes it mutates are accepted as they are.
    reply = postgres_world.harness.exchange(
        sink_request(postgres_world, [orjson.dumps(valid_envelope(postgres_world))], [])
    )
    assert reply.status == 200


def test_a_nul_in_the_node_is_refused_with_400_on_postgresql(postgres_world: World) -> None:
    document = {**valid_envelope(postgres_world), "node": "10.0.0.1\x00"}
    request = RawRequest(
        "POST",
        "/api/pexip/event_sink",
        headers=((b"authorization", postgres_world.pexip_authorization()),),
        body_chunks=(orjson.dumps(document),),
    )
    reply = postgres_world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400


def test_an_empty_bulk_envelope_is_acknowledged_on_postgresql(postgres_world: World) -> None:
    # It used to reach the group commit as an INSERT of no rows, which fails on PostgreSQL
    # (503, so Infinity would retry it for ever).
    wrapper = {**valid_envelope(postgres_world, "eventsink_bulk"), "data": []}
    reply = postgres_world.harness.exchange(
        sink_request(postgres_world, [orjson.dumps(wrapper)], [])
    )
    assert reply.status == 200
