"""Hostile input to the companion plugin's endpoint: signed requests with hostile bodies and user
ids reach the checks behind the signature and are answered below 500; unsigned or badly signed
ones are refused and change nothing."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.plugin_signature import sign
from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import (
    CONTENT_TYPES,
    header_value,
    hostile_json,
    json_bytes,
    mutated_object,
)

MEETING = "/api/plugin/meeting"
SECRET = "hostile-plugin-secret-0123456789abcdef"


@pytest.fixture(scope="module", autouse=True)
def plugin_secret(world: World) -> None:
    async def set_secret() -> None:
        await world.components.admin.set_secret("plugin_shared_secret", SECRET, "test")
        await world.components.state.refresh()

    world.harness.run(set_secret())


def signed(body: bytes, user: bytes) -> list[Header]:
    timestamp = str(int(time.time()))
    # Starlette hands header bytes to meetbridge as latin-1 text: sign what it will see.
    signature = sign(SECRET, "POST", MEETING, timestamp, user.decode("latin-1"), body)
    return [
        (b"content-type", b"application/json"),
        (b"mattermost-user-id", user),
        (b"x-meetbridge-timestamp", timestamp.encode()),
        (b"x-meetbridge-signature", signature.encode()),
    ]


def test_signed_requests_with_hostile_bodies_and_users_never_fail(world: World) -> None:
    @HOSTILE
    @given(
        data=st.data(),
        user=st.one_of(
            st.just(world.member_id.encode()), st.just(world.outsider_id.encode()), header_value
        ),
    )
    def check(data: st.DataObject, user: bytes) -> None:
        document = data.draw(
            st.one_of(
                mutated_object({"channel_id": world.channel_id, "topic": "Review"}), hostile_json
            )
        )
        body = json_bytes(document)
        request = RawRequest("POST", MEETING, b"", tuple(signed(body, user)), (body,))
        world.harness.exchange(request)

    check()


def test_unsigned_or_badly_signed_requests_are_refused_and_change_nothing(world: World) -> None:
    body = json_bytes({"channel_id": world.channel_id})

    @HOSTILE
    @given(
        timestamp=st.one_of(st.none(), header_value, st.sampled_from([b"nan", b"-1", b"1e999"])),
        signature=st.one_of(st.none(), header_value, st.just(b"0" * 64)),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(timestamp: bytes | None, signature: bytes | None, content_type: bytes) -> None:
        headers: list[Header] = [
            (b"content-type", content_type),
            (b"mattermost-user-id", world.member_id.encode()),
        ]
        if timestamp is not None:
            headers.append((b"x-meetbridge-timestamp", timestamp))
        if signature is not None:
            headers.append((b"x-meetbridge-signature", signature))
        request = RawRequest("POST", MEETING, b"", tuple(headers), (body,))
        world.harness.exchange(request, refusal_expected=True)

    check()
