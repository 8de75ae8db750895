"""The holes issue 9 lists, each pinned by one example through the whole app.

These were strict xfails while the holes were open (and the property tests skipped their
inputs); now that the fixes are merged they assert the fixed behaviour, and the properties
generate those inputs too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from sqlalchemy import select

from meetbridge.store.tables import inbox
from tests.hostile.conftest import ZOOM_SECRET_TOKEN, World
from tests.hostile.harness import RawRequest

NON_ASCII = "é"


def envelope(node: str, seq: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "node": node,
        "seq": seq,
        "version": 2,
        "time": time.time(),
        "event": "participant_connected",
        "data": data or {},
    }


def sink(world: World, document: Any) -> RawRequest:
    return RawRequest(
        "POST",
        "/api/pexip/event_sink",
        headers=((b"authorization", world.pexip_authorization()),),
        body_chunks=(orjson.dumps(document),),
    )


# --- item 1: verifiers raise on non-ASCII input -----------------------------------------------


def test_policy_survives_a_non_ascii_call_tag(world: World) -> None:
    tag = f"mbu.{world.member_id}.{NON_ASCII * 24}"
    query = urlencode(
        {"call_tag": tag, "service_tag": world.service_tag(), "service_name": world.alias()}
    ).encode()
    request = RawRequest(
        "GET",
        "/api/pexip/policy/v1/participant/properties",
        query,
        ((b"authorization", world.pexip_authorization()),),
    )
    reply = world.harness.exchange(request)
    assert reply.status == 200


def test_a_join_link_with_a_non_ascii_signature_is_refused(world: World) -> None:
    body = world.join_token().partition(".")[0]
    request = RawRequest("GET", f"/join/{body}.{NON_ASCII}", headers=(world.identity_header(),))
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 403


def test_an_admin_sign_in_link_with_a_non_ascii_signature_is_refused(world: World) -> None:
    body = world.components.console.login_link_token(world.admin_id).partition(".")[0]
    query = f"token={quote(body + '.' + NON_ASCII)}".encode()
    headers = (world.identity_header(world.admin_id),)
    request = RawRequest("GET", "/admin/login", query, headers)
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 403


def test_a_button_click_with_a_non_ascii_signature_is_refused(world: World) -> None:
    context = {**world.button_context(), "signature": NON_ASCII * 32}
    click = {"user_id": world.member_id, "channel_id": world.channel_id, "context": context}
    request = RawRequest("POST", "/api/mattermost/action", body_chunks=(orjson.dumps(click),))
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 403


def test_a_zoom_webhook_with_a_non_ascii_signature_is_refused(world: World) -> None:
    body = orjson.dumps({"event": "meeting.started", "payload": {"object": {"id": "1"}}})
    headers = (
        (b"content-type", b"application/json"),
        (b"x-zm-request-timestamp", str(int(time.time())).encode()),
        (b"x-zm-signature", "v0=é".encode("latin-1")),
    )
    query = f"secret={quote(world.webhook_secret)}".encode()
    request = RawRequest("POST", "/api/zoom/webhook", query, headers, (body,))
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 401


def test_the_sign_in_callback_refuses_a_non_ascii_flow_cookie(world: World) -> None:
    sign_in = world.mattermost_oauth_state()
    query = urlencode({"state": sign_in.state, "code": world.oauth_code}).encode()
    headers = ((b"cookie", sign_in.cookie(NON_ASCII)),)
    request = RawRequest("GET", "/oauth/mattermost/callback", query, headers)
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "did not start in this browser" in reply.message()


def test_the_zoom_connect_callback_refuses_a_non_ascii_state_cookie(world: World) -> None:
    sign_in = world.zoom_oauth_state()
    query = urlencode({"state": sign_in.state, "code": "x"}).encode()
    headers = ((b"cookie", sign_in.cookie(NON_ASCII)),)
    request = RawRequest("GET", "/zoom/oauth/callback", query, headers)
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400


def test_a_sequence_number_beyond_64_bits_is_refused_with_400(world: World) -> None:
    reply = world.harness.exchange(sink(world, envelope("10.9.9.9", 2**63)), refusal_expected=True)
    assert reply.status == 400 and "seq" in reply.message()


def test_the_applier_carries_on_past_an_event_with_a_non_ascii_call_tag(world: World) -> None:
    data = {
        "conference": world.alias(),
        "service_tag": world.service_tag(),
        "uuid": "8a1e6f9c-4d0b-4f0e-9d63-6d0f3b2a7c11",
        "display_name": "Mallory",
        "call_tag": f"mbu.{world.member_id}.{NON_ASCII * 24}",
    }
    bad = world.harness.exchange(sink(world, envelope("10.9.9.10", 1, data)))
    good = world.harness.exchange(sink(world, envelope("10.9.9.11", 1)))
    assert bad.status == good.status == 200
    world.harness.run(world.components.applier.drain())

    async def unapplied() -> list[str]:
        async with world.components.core.database.read() as conn:
            rows = await conn.execute(
                select(inbox.c.node).where(
                    inbox.c.node == "10.9.9.11", inbox.c.applied_at.is_(None)
                )
            )
            return [row.node for row in rows]

    assert world.harness.run(unapplied()) == []


# --- item 3: the Zoom URL-validation oracle and non-finite timestamps -----------------------


def _zoom_request(
    world: World, body: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> RawRequest:
    query = f"secret={quote(world.webhook_secret)}".encode()
    return RawRequest(
        "POST",
        "/api/zoom/webhook",
        query,
        ((b"content-type", b"application/json"), *headers),
        (body,),
    )


def test_an_unsigned_url_validation_is_refused(world: World) -> None:
    body = orjson.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "v0:1:{}"}})
    reply = world.harness.exchange(_zoom_request(world, body, ()), refusal_expected=True)
    assert reply.status == 401


def test_a_zoom_webhook_with_a_nan_timestamp_is_refused(world: World) -> None:
    body = orjson.dumps({"event": "meeting.started", "payload": {"object": {"id": "404"}}})
    digest = hmac.new(ZOOM_SECRET_TOKEN.encode(), b"v0:nan:" + body, hashlib.sha256).hexdigest()
    headers = ((b"x-zm-request-timestamp", b"nan"), (b"x-zm-signature", f"v0={digest}".encode()))
    reply = world.harness.exchange(_zoom_request(world, body, headers), refusal_expected=True)
    assert reply.status == 401


# --- item 4: bodies are buffered whole before the size check --------------------------------


def test_an_oversized_button_action_is_refused_before_it_is_read(world: World) -> None:
    chunk = b"x" * (1024 * 1024)
    request = RawRequest(
        "POST",
        "/api/mattermost/action",
        headers=((b"content-length", str(8 * 1024**3).encode()),),
        body_chunks=(chunk,) * 64,  # 64 MiB offered, of the 8 GiB announced
    )
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 413 and reply.received <= 2 * len(chunk)
