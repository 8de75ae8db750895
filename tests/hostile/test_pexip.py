"""Hostile input to Infinity's two interfaces: the policy server and the event sink."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import RawRequest, Reply, check_reply
from tests.hostile.strategies import (
    CONTENT_TYPES,
    JsonObject,
    bodies,
    extra_headers,
    header_value,
    hostile_bytes,
    hostile_int,
    hostile_json,
    hostile_text,
    is_valid_unicode,
    json_bytes,
    junk_query,
    mutated_object,
    raw_query,
    render_json,
)
from tests.support.db_digest import assert_unchanged

SINK = "/api/pexip/event_sink"
SERVICE_CONFIGURATION = "/api/pexip/policy/v1/service/configuration"
PARTICIPANT_PROPERTIES = "/api/pexip/policy/v1/participant/properties"

# --- event sink --------------------------------------------------------------------------------

_seqs = iter(range(1, 10**9))


def valid_envelope(world: World, event: str = "participant_connected") -> dict[str, Any]:
    return {
        "node": "10.20.0.11",
        "seq": next(_seqs),
        "version": 2,
        "time": 1_700_000_000.25,
        "event": event,
        "data": {
            "conference": world.alias(),
            "service_tag": world.service_tag(),
            "uuid": "3c5ec1a6-0c8f-4ae3-a8de-1f3b1a2c9e4d",
            "display_name": "Alice",
            "call_tag": world.call_tag(),
            "role": "chair",
            "has_media": True,
        },
    }


envelope_field = {
    "node": st.one_of(hostile_text(), st.just("n" * 256), hostile_json),
    "seq": st.one_of(hostile_int(), hostile_json),
    "version": st.one_of(st.sampled_from([0, 1, 2, 3, "2", 2.0, True]), hostile_json),
    "time": st.one_of(st.sampled_from([-1, 0, 1e308, "1", True]), hostile_json),
    "event": st.one_of(hostile_text(), st.just("e" * 129), hostile_json),
    "data": hostile_json,
}


def sink_request(world: World, body: list[bytes], headers: list[tuple[bytes, bytes]]) -> RawRequest:
    return RawRequest(
        "POST",
        SINK,
        headers=(
            (b"authorization", world.pexip_authorization()),
            (b"content-type", b"application/json"),
            *headers,
        ),
        body_chunks=tuple(body),
    )


def decoded(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def check_sink(world: World, request: RawRequest) -> Reply:
    reply = world.harness.exchange(request)
    assert reply.status in (200, 400, 413), reply
    return reply


@st.composite
def single_envelopes(draw: st.DrawFn, world: World) -> bytes:
    event = draw(st.sampled_from(["participant_connected", "conference_started", "other"]))
    envelope = draw(mutated_object(valid_envelope(world, event), envelope_field))
    data = draw(st.sampled_from(["keep", "hostile"]))
    if data == "hostile":
        fields = dict(valid_envelope(world)["data"])
        envelope = JsonObject((*envelope.pairs, ("data", draw(mutated_object(fields, {})))))
    return json_bytes(envelope)


@st.composite
def bulk_envelopes(draw: st.DrawFn, world: World) -> bytes:
    items = draw(
        st.lists(
            st.one_of(
                mutated_object(valid_envelope(world), envelope_field),
                st.just(valid_envelope(world)),
                hostile_json,
            ),
            max_size=4,
        )
    )
    wrapper = {**valid_envelope(world, "eventsink_bulk"), "data": items}
    return json_bytes(draw(mutated_object(wrapper, {**envelope_field, "data": hostile_json})))


def test_the_event_sink_refuses_hostile_single_envelopes_cleanly(world: World) -> None:
    @HOSTILE
    @given(body=st.data(), headers=extra_headers())
    def check(body: st.DataObject, headers: list[tuple[bytes, bytes]]) -> None:
        raw = body.draw(single_envelopes(world))
        check_sink(world, sink_request(world, body.draw(bodies(st.just(raw))), headers))

    check()


def test_the_event_sink_refuses_hostile_bulk_envelopes_cleanly(world: World) -> None:
    @HOSTILE
    @given(body=st.data())
    def check(body: st.DataObject) -> None:
        raw = body.draw(bulk_envelopes(world))
        check_sink(world, sink_request(world, body.draw(bodies(st.just(raw))), []))

    check()


def test_the_event_sink_refuses_bodies_that_are_not_envelopes(world: World) -> None:
    documents = st.one_of(
        hostile_bytes(),
        hostile_json.map(json_bytes),
        hostile_json.map(lambda v: render_json(v).encode("utf-16")),
        hostile_json.map(lambda v: render_json(v).encode("utf-8", "surrogatepass")),
    )

    @HOSTILE
    @given(chunks=bodies(documents), content_type=st.sampled_from(CONTENT_TYPES))
    def check(chunks: list[bytes], content_type: bytes) -> None:
        request = sink_request(world, chunks, [(b"content-type", content_type)])
        check_sink(world, request)

    check()


def test_the_event_sink_stores_nothing_without_the_pexip_credentials(world: World) -> None:
    @HOSTILE
    @given(
        authorization=st.one_of(header_value, st.none()), method=st.sampled_from(["POST", "PUT"])
    )
    def check(authorization: bytes | None, method: str) -> None:
        assume(authorization != world.pexip_authorization())
        headers = [] if authorization is None else [(b"authorization", authorization)]
        request = RawRequest(
            method, SINK, headers=tuple(headers), body_chunks=(orjson.dumps(valid_envelope(world)),)
        )
        reply = world.harness.exchange(request, refusal_expected=True)
        assert reply.status in (401, 405)

    check()


# --- policy ------------------------------------------------------------------------------------


def policy_pairs(world: World) -> dict[str, str]:
    return {
        "local_alias": world.alias(),
        "service_name": world.alias(),
        "service_tag": world.service_tag(),
        "call_tag": world.call_tag(),
        "remote_display_name": "Alice",
        "protocol": "webrtc",
        "node_ip": "10.20.0.11",
    }


@st.composite
def policy_queries(draw: st.DrawFn, world: World) -> bytes:
    how = draw(st.sampled_from(["mutated", "junk", "mutated+junk"]))
    if how == "junk":
        return draw(junk_query)
    pairs: list[tuple[str | bytes, str | bytes]] = []
    for key, value in policy_pairs(world).items():
        choice = draw(st.sampled_from(["keep", "keep", "drop", "replace", "repeat"]))
        if choice in ("keep", "repeat"):
            pairs.append((key, value))
        if choice in ("replace", "repeat"):
            pairs.append((key, draw(st.one_of(hostile_text(), hostile_bytes()))))
    query = raw_query(draw(st.permutations(pairs)))
    return query + b"&" + draw(junk_query) if how == "mutated+junk" else query


def check_policy(world: World, request: RawRequest) -> None:
    """Policy answers follow Infinity's protocol: 200, or 404 ``{"status": "fail"}`` for "not
    ours, use your own configuration". Neither may fail, and only an answer that hands out a
    conference may store anything (its channel's PINs, made on first use), or one that makes a
    member host (that meetbridge made them host, issue 20) and nothing else. Any authenticated
    request also leaves the one diagnostic mark the doctor reads (when Infinity last asked,
    stored at most once a minute, in the background): that row is not compared."""
    last_asked = "key='pexip_last_policy_request'"
    before = world.harness.snapshot().without_rows("deployment", last_asked)
    reply = world.harness.send(request)
    after = world.harness.snapshot().without_rows("deployment", last_asked)
    answer = decoded(reply.body)
    protocol_answer = isinstance(answer, dict) and answer.get("status") in ("success", "fail")
    if not protocol_answer:
        check_reply(request, reply, before, after)
        return
    assert reply.status in (200, 404), request.describe()
    assert isinstance(answer, dict)
    result = answer.get("result", {})
    if result.get("preauthenticated_role") == "chair":
        before, after = before.without("pexip_host_grants"), after.without("pexip_host_grants")
    if result.get("service_type") != "conference":
        assert_unchanged(before, after, request.describe())


def test_policy_answers_hostile_queries_without_failing(world: World) -> None:
    @HOSTILE
    @given(
        path=st.sampled_from([SERVICE_CONFIGURATION, PARTICIPANT_PROPERTIES]),
        query=st.data(),
        method=st.sampled_from(["GET", "GET", "HEAD"]),
    )
    def check(path: str, query: st.DataObject, method: str) -> None:
        raw = query.draw(policy_queries(world))
        request = RawRequest(method, path, raw, ((b"authorization", world.pexip_authorization()),))
        check_policy(world, request)

    check()


def test_policy_refuses_hostile_paths_and_credentials(world: World) -> None:
    paths = st.one_of(
        st.sampled_from(
            [
                "/api/pexip/",
                "/api/pexip//policy/v1/service/configuration",
                "/api/pexip/policy/v1/",
                "/api/pexip/policy/v1/participant/avatar/x",
                "/api/pexip/../admin",
                "/api/pexip/event_sink/",
            ]
        ),
        hostile_text().map(lambda t: "/api/pexip/" + t),
    )

    @HOSTILE
    @given(path=paths, authorization=st.one_of(st.none(), header_value), query=junk_query)
    def check(path: str, authorization: bytes | None, query: bytes) -> None:
        assume(is_valid_unicode(path))
        headers = () if authorization is None else ((b"authorization", authorization),)
        reply = world.harness.exchange(RawRequest("GET", path, query, headers))
        assert reply.status != 200 or authorization == world.pexip_authorization()

    check()
