"""LiveKit webhooks: only authentic, fresh, untampered events get through, parsed and typed."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.webhooks import (
    EventKind,
    WebhookEvent,
    WebhookRefusal,
    parse_event,
    verify_webhook,
)

KEY, SECRET = "APIwebhook", "w" * 40
KEYS = {KEY: SECRET, "APIother": "o" * 40}
NOW = 1_800_000_000.0

ROOM_STARTED = (
    b'{"event":"room_started","room":{"sid":"RM_abc","name":"matt-ch1","emptyTimeout":300,'
    b'"departureTimeout":20,"creationTime":"1800000000","creationTimeMs":"1800000000123",'
    b'"metadata":"{\\"topic\\":\\"Caf\xc3\xa9 \xe2\x98\x95\\"}"},'
    b'"id":"EV_room1","createdAt":"1800000000"}'
)


def sha256_claim(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(body: bytes, key: str = KEY, secret: str = SECRET, **overrides: object) -> str:
    """What livekit-server sends: a 5-minute token whose sha256 claim hashes the body."""
    claims: dict[str, object] = {
        "iss": key,
        "nbf": int(NOW),
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "sha256": sha256_claim(body),
    }
    claims.update(overrides)
    return hs256.encode({k: v for k, v in claims.items() if v is not None}, secret)


def refused(body: bytes, authorization: str | bytes | None, now: float = NOW) -> str:
    outcome = verify_webhook(body, authorization, KEYS, now=now)
    assert isinstance(outcome, WebhookRefusal), outcome
    return outcome.reason


def test_authentic_room_started_is_accepted_and_typed() -> None:
    event = verify_webhook(ROOM_STARTED, sign(ROOM_STARTED), KEYS, now=NOW + 1)
    assert isinstance(event, WebhookEvent)
    assert event.kind is EventKind.ROOM_STARTED
    assert event.id == "EV_room1"
    assert event.created_at == 1_800_000_000
    assert event.room is not None
    assert event.room.name == "matt-ch1"
    assert event.room.sid == "RM_abc"
    assert event.room.creation_time_ms == 1_800_000_000_123
    assert event.room.departure_timeout == 20
    assert event.room.metadata == '{"topic":"Café ☕"}'
    assert event.participant is None


def test_the_authorization_header_may_come_as_bytes_or_with_a_bearer_prefix() -> None:
    token = sign(ROOM_STARTED)
    assert isinstance(verify_webhook(ROOM_STARTED, token.encode(), KEYS, NOW), WebhookEvent)
    assert isinstance(verify_webhook(ROOM_STARTED, "Bearer " + token, KEYS, NOW), WebhookEvent)


def test_any_configured_key_may_sign() -> None:
    token = sign(ROOM_STARTED, key="APIother", secret="o" * 40)
    assert isinstance(verify_webhook(ROOM_STARTED, token, KEYS, NOW), WebhookEvent)


def test_participant_and_track_events_carry_who_and_what() -> None:
    body = orjson.dumps(
        {
            "event": "track_published",
            "room": {"sid": "RM_1", "name": "r"},
            "participant": {
                "sid": "PA_1",
                "identity": "user-1#tab2",
                "name": "Zoë",
                "state": "ACTIVE",
                "joinedAt": "1800000001",
                "joinedAtMs": "1800000001500",
                "attributes": {"mattermost_user": "u1"},
                "permission": {
                    "canSubscribe": True,
                    "canPublish": True,
                    "canPublishSources": ["MICROPHONE"],
                },
                "isPublisher": True,
            },
            "track": {"sid": "TR_1", "source": "MICROPHONE", "mimeType": "audio/opus"},
            "id": "EV_2",
            "createdAt": "1800000002",
        }
    )
    event = verify_webhook(body, sign(body), KEYS, NOW)
    assert isinstance(event, WebhookEvent)
    assert event.kind is EventKind.TRACK_PUBLISHED
    assert event.participant is not None
    assert event.participant.identity == "user-1#tab2"
    assert event.participant.state == "ACTIVE"
    assert event.participant.attributes == {"mattermost_user": "u1"}
    assert event.participant.permission is not None
    assert event.participant.permission.can_publish_sources == ("MICROPHONE",)
    assert event.track is not None
    # protobuf JSON leaves out zero values: the absent type is AUDIO (0).
    assert (event.track.type, event.track.source) == ("AUDIO", "MICROPHONE")


def test_egress_events_carry_the_egress() -> None:
    body = orjson.dumps(
        {
            "event": "egress_ended",
            "egressInfo": {"egressId": "EG_1", "roomName": "r", "status": "EGRESS_COMPLETE"},
            "id": "EV_3",
            "createdAt": 1800000003,
        }
    )
    event = verify_webhook(body, sign(body), KEYS, NOW)
    assert isinstance(event, WebhookEvent)
    assert event.kind is EventKind.EGRESS_ENDED
    assert event.egress is not None
    assert (event.egress.egress_id, event.egress.status) == ("EG_1", "EGRESS_COMPLETE")


def test_an_event_type_unknown_to_meetbridge_is_authentic_but_other() -> None:
    body = b'{"event":"agent_job_started","id":"EV_4","createdAt":"1800000004","future":{"x":1}}'
    event = verify_webhook(body, sign(body), KEYS, NOW)
    assert isinstance(event, WebhookEvent)
    assert event.kind is EventKind.OTHER
    assert event.name == "agent_job_started"


def test_a_replay_carries_the_same_event_id_for_the_caller_to_spot() -> None:
    first = verify_webhook(ROOM_STARTED, sign(ROOM_STARTED), KEYS, NOW)
    again = verify_webhook(ROOM_STARTED, sign(ROOM_STARTED, iat=int(NOW) + 5), KEYS, NOW + 5)
    assert isinstance(first, WebhookEvent)
    assert isinstance(again, WebhookEvent)
    assert first.id == again.id


def test_missing_or_empty_authorization_is_refused() -> None:
    assert "Authorization" in refused(ROOM_STARTED, None)
    assert "Authorization" in refused(ROOM_STARTED, "")
    assert "Authorization" in refused(ROOM_STARTED, "Bearer ")


def test_a_token_signed_with_a_guessed_secret_is_refused() -> None:
    assert "signature" in refused(ROOM_STARTED, sign(ROOM_STARTED, secret="guess" * 8))


def test_a_token_from_an_unknown_api_key_is_refused() -> None:
    assert "issuer" in refused(ROOM_STARTED, sign(ROOM_STARTED, key="APIstranger"))


def test_a_stale_webhook_is_refused() -> None:
    # LiveKit's tokens last 5 minutes; one minute of leeway on top.
    assert "expired" in refused(ROOM_STARTED, sign(ROOM_STARTED), now=NOW + 300 + 61)


def test_a_webhook_from_the_future_is_refused() -> None:
    token = sign(ROOM_STARTED, nbf=int(NOW) + 3600, exp=int(NOW) + 3900)
    assert "not yet" in refused(ROOM_STARTED, token)


def test_a_tampered_body_is_refused() -> None:
    token = sign(ROOM_STARTED)
    tampered = ROOM_STARTED.replace(b"matt-ch1", b"matt-ch2")
    assert "body" in refused(tampered, token)
    assert "body" in refused(ROOM_STARTED + b" ", token)


def test_a_token_without_a_body_hash_is_refused() -> None:
    assert "sha256" in refused(ROOM_STARTED, sign(ROOM_STARTED, sha256=None))


@pytest.mark.parametrize("claim", [5, "", "not base64!", "AAAA", sha256_claim(b"x")[:-4], ["x"]])
def test_a_malformed_or_wrong_body_hash_is_refused(claim: object) -> None:
    refused(ROOM_STARTED, sign(ROOM_STARTED, sha256=claim))


def test_a_hex_body_hash_is_refused_because_livekit_sends_base64() -> None:
    hexed = hashlib.sha256(ROOM_STARTED).hexdigest()
    refused(ROOM_STARTED, sign(ROOM_STARTED, sha256=hexed))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "a.b.c",
        "Bearer a.b.c",
        "tökén.x.y",
        b"\xff\xfe.\x00.\x01",
        "x" * 50_000,
        "Bearer Bearer " + "a.b.c",
    ],
)
def test_malformed_authorization_headers_are_refused(authorization: str | bytes) -> None:
    refused(ROOM_STARTED, authorization)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"room_started"',
        b"\xff\xfe\x00",
        b'{"id":"EV_1","createdAt":"1"}',
        b'{"event":5,"id":"EV_1"}',
        b'{"event":"room_started","createdAt":"1"}',
        b'{"event":"room_started","id":7}',
        b'{"event":"room_started","id":"EV_1","createdAt":"soon"}',
        b'{"event":"room_started","id":"EV_1","createdAt":"1e9"}',
        b'{"event":"room_started","id":"EV_1","room":"RM_1"}',
        b'{"event":"room_started","id":"EV_1","room":{"name":["r"]}}',
        b'{"event":"participant_joined","id":"EV_1","participant":{"attributes":{"a":1}}}',
        b'{"event":"participant_joined","id":"EV_1","participant":{"tracks":[1]}}',
        b'{"event":"room_started","id":"EV_1","room":{"numParticipants":true}}',
        b'{"event":"room_started","id":"EV_1","createdAt":123456789012345678901234567890}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_signed_but_malformed_body_is_refused(body: bytes) -> None:
    refused(body, sign(body))


def test_parse_event_alone_refuses_instead_of_raising() -> None:
    assert isinstance(parse_event(b"{"), WebhookRefusal)
    assert isinstance(parse_event(ROOM_STARTED), WebhookEvent)


@given(body=st.binary(max_size=300), authorization=st.one_of(st.none(), st.text(), st.binary()))
def test_arbitrary_input_never_raises(body: bytes, authorization: str | bytes | None) -> None:
    outcome = verify_webhook(body, authorization, KEYS, NOW)
    assert isinstance(outcome, WebhookRefusal)


@given(event=st.dictionaries(st.text(max_size=12), st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
), max_size=6))  # fmt: skip
def test_arbitrary_signed_json_never_raises(event: dict[str, object]) -> None:
    body = orjson.dumps(event)
    outcome = verify_webhook(body, sign(body), KEYS, NOW)
    assert isinstance(outcome, WebhookEvent | WebhookRefusal)
