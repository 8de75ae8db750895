"""Webhooks recorded from a real livekit-server v1.13.5 (signed by LiveKit's own Go code).

Recorded once with a test-only key pair (see tests/fixtures/livekit/), so the verifier is
checked against the server's exact bytes even where the binary cannot be built.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from meetbridge.engines.livekit.webhooks import (
    EventKind,
    WebhookEvent,
    WebhookRefusal,
    verify_webhook,
)

RECORDING = orjson.loads(
    (Path(__file__).parents[3] / "fixtures" / "livekit" / "webhooks-v1.13.5.json").read_bytes()
)
KEYS = {RECORDING["api_key"]: RECORDING["api_secret"]}
WEBHOOKS: list[dict[str, Any]] = RECORDING["webhooks"]


def body_of(webhook: dict[str, Any]) -> bytes:
    return base64.b64decode(webhook["body_base64"])


def accepted(webhook: dict[str, Any]) -> WebhookEvent:
    event = verify_webhook(
        body_of(webhook), webhook["authorization"], KEYS, now=webhook["received_at"]
    )
    assert isinstance(event, WebhookEvent), event
    return event


def test_every_recorded_webhook_verifies_at_the_time_it_arrived() -> None:
    events = [accepted(webhook) for webhook in WEBHOOKS]
    assert [event.kind for event in events] == [
        EventKind.ROOM_STARTED,
        EventKind.PARTICIPANT_CONNECTION_ABORTED,
        EventKind.ROOM_FINISHED,
    ]
    assert len({event.id for event in events}) == 3
    assert all(event.room is not None and event.room.name == "Café ☕ standup" for event in events)


def test_recorded_participant_event_carries_unicode_identity_name_and_attributes() -> None:
    participant = accepted(WEBHOOKS[1]).participant
    assert participant is not None
    assert (participant.identity, participant.name) == ("user-ü", "Zoë")
    assert participant.attributes == {"mm": "u1"}


def test_recorded_room_metadata_survives_with_its_unicode() -> None:
    room = accepted(WEBHOOKS[0]).room
    assert room is not None
    assert room.metadata == '{"topic":"Café ☕"}'
    assert room.sid.startswith("RM_")


@pytest.mark.parametrize("webhook", WEBHOOKS, ids=lambda w: str(w["received_at"]))
def test_recorded_webhooks_are_refused_after_their_five_minutes(webhook: dict[str, Any]) -> None:
    late = webhook["received_at"] + 300 + 61
    refusal = verify_webhook(body_of(webhook), webhook["authorization"], KEYS, now=late)
    assert isinstance(refusal, WebhookRefusal)


def test_recorded_webhook_bodies_are_bound_to_their_own_signature() -> None:
    started, aborted = WEBHOOKS[0], WEBHOOKS[1]
    crossed = verify_webhook(
        body_of(aborted), started["authorization"], KEYS, now=started["received_at"]
    )
    assert isinstance(crossed, WebhookRefusal)
    assert "sha256" in crossed.reason


def test_the_sha256_claim_is_padded_standard_base64_of_the_raw_body() -> None:
    payload = WEBHOOKS[0]["authorization"].split(".")[1]
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert sorted(claims) == ["exp", "iat", "iss", "nbf", "sha256"]
    assert claims["exp"] - claims["nbf"] == 300
    assert claims["sha256"].endswith("=")
    assert len(base64.b64decode(claims["sha256"], validate=True)) == 32
