"""Hostile input to Zoom's webhook endpoint: path secret, signature, timestamp, body."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.ids import ChannelId, UserId
from tests.hostile.conftest import HOSTILE, ZOOM_SECRET_TOKEN, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import (
    CONTENT_TYPES,
    bodies,
    header_value,
    hostile_bytes,
    hostile_json,
    hostile_text,
    json_bytes,
    mutated_object,
)
from tests.support.zoom import signed_webhook

WEBHOOK = "/api/zoom/webhook"
EVENTS = [
    "meeting.started",
    "meeting.ended",
    "recording.completed",
    "recording.transcript_completed",
    "meeting.participant_joined",
]


@pytest.fixture(scope="module")
def zoom_meeting_id(world: World) -> str:
    """A meeting meetbridge started on Zoom, so that signed events about it reach the database."""
    from tests.integration.test_zoom import connect

    async def start() -> str:
        zoom = world.components.zoom
        await connect(world, world.zoom_sim, world.member_id, world.channel_id)  # type: ignore[arg-type]
        result = await zoom.start(
            UserId(world.member_id), ChannelId(world.channel_id), "Retro", use_pmi=False
        )
        url: str = result.url
        assert url, result
        return url.rsplit("/", 1)[1].split("?")[0]

    return world.harness.run(start())


def meeting_payload(meeting_id: str) -> dict[str, Any]:
    return {
        "account_id": "acct",
        "object": {
            "id": meeting_id,
            "uuid": "u==",
            "host_id": "h",
            "topic": "Retro",
            "start_time": "2026-11-30T01:00:00Z",
            "end_time": "2026-11-30T02:00:00Z",
            "password": "pw",
            "recording_files": [
                {"file_type": "MP4", "play_url": "https://zoom.example/rec/1"},
                {"file_type": "TRANSCRIPT", "download_url": "https://zoom.example/rec/2"},
            ],
        },
    }


def signed(body: bytes, timestamp: str | None = None) -> list[Header]:
    import hashlib
    import hmac

    ts = timestamp or str(int(time.time()))
    digest = hmac.new(
        ZOOM_SECRET_TOKEN.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return [
        (b"content-type", b"application/json"),
        (b"x-zm-request-timestamp", ts.encode()),
        (b"x-zm-signature", f"v0={digest}".encode()),
    ]


def webhook_query(world: World) -> bytes:
    return f"secret={quote(world.webhook_secret)}".encode()


def test_signed_webhooks_with_hostile_payloads_never_fail(
    world: World, zoom_meeting_id: str
) -> None:
    objects = mutated_object(meeting_payload(zoom_meeting_id)["object"])

    @HOSTILE
    @given(
        event=st.one_of(st.sampled_from(EVENTS), hostile_text()),
        data=st.data(),
    )
    def check(event: str, data: st.DataObject) -> None:
        payload = {"account_id": "acct", "object": data.draw(st.one_of(objects, hostile_json))}
        document = data.draw(mutated_object({"event": event, "event_ts": 1, "payload": payload}))
        body = json_bytes(document)
        request = RawRequest("POST", WEBHOOK, webhook_query(world), tuple(signed(body)), (body,))
        world.harness.exchange(request)

    check()


def test_unsigned_or_badly_signed_webhooks_are_refused_and_change_nothing(
    world: World, zoom_meeting_id: str
) -> None:
    body = signed_webhook("meeting.ended", meeting_payload(zoom_meeting_id), "wrong-token")[0]

    @HOSTILE
    @given(
        timestamp=st.one_of(st.none(), header_value, st.sampled_from([b"nan", b"-inf", b"1e999"])),
        signature=st.one_of(st.none(), header_value, st.just(b"v0=" + b"0" * 64)),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(timestamp: bytes | None, signature: bytes | None, content_type: bytes) -> None:
        headers: list[Header] = [(b"content-type", content_type)]
        if timestamp is not None:
            headers.append((b"x-zm-request-timestamp", timestamp))
        if signature is not None:
            headers.append((b"x-zm-signature", signature))
        request = RawRequest("POST", WEBHOOK, webhook_query(world), tuple(headers), (body,))
        world.harness.exchange(request, refusal_expected=True)

    check()


def test_webhooks_without_the_path_secret_are_refused(world: World) -> None:
    @HOSTILE
    @given(
        query=st.one_of(
            hostile_bytes().map(lambda b: b"secret=" + quote(b).encode()),
            st.just(b""),
            st.just(b"secret=" + quote(world.webhook_secret[:-1]).encode()),
        ),
        body=bodies(st.one_of(hostile_bytes(), hostile_json.map(json_bytes))),
    )
    def check(query: bytes, body: list[bytes]) -> None:
        request = RawRequest(
            "POST", WEBHOOK, query, ((b"content-type", b"application/json"),), tuple(body)
        )
        reply = world.harness.exchange(request, refusal_expected=True)
        assert reply.status == 401

    check()


def test_webhook_bodies_that_are_not_zoom_events_are_refused(world: World) -> None:
    @HOSTILE
    @given(
        body=bodies(st.one_of(hostile_bytes(), hostile_json.map(json_bytes))),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(body: list[bytes], content_type: bytes) -> None:
        raw = b"".join(body)
        headers = [(b"content-type", content_type), *signed(raw)[1:]]
        request = RawRequest("POST", WEBHOOK, webhook_query(world), tuple(headers), tuple(body))
        world.harness.exchange(request)

    check()
