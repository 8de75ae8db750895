"""The suite's own instruments: the digest sees every change, the invariant check catches what
it should, and the valid credentials the strategies start from really get past each check."""

from __future__ import annotations

import time
from urllib.parse import quote

import orjson
import pytest

from meetbridge.domain.ids import ChannelId
from tests.hostile.conftest import World
from tests.hostile.harness import InvariantError, RawRequest, Reply, check_reply
from tests.hostile.strategies import form_bytes
from tests.hostile.test_pexip import valid_envelope
from tests.hostile.test_zoom_webhook import signed
from tests.support.db_digest import assert_unchanged


def test_the_digest_changes_with_any_stored_change_and_says_where(world: World) -> None:
    before = world.harness.snapshot()
    assert world.harness.snapshot().digest == before.digest  # reading changes nothing
    world.harness.run(
        world.components.admin.set_channels_allowed([ChannelId("c" * 26)], False, "test")
    )
    after = world.harness.snapshot()
    assert after.digest != before.digest
    with pytest.raises(AssertionError, match=r"channel_filter: \+ .*cccc"):
        assert_unchanged(before, after)


def test_the_invariant_check_catches_5xx_silent_refusals_and_changes(world: World) -> None:
    request = RawRequest("GET", "/x")
    same = world.harness.snapshot()
    json = [(b"content-type", b"application/json")]
    with pytest.raises(InvariantError, match="500"):
        check_reply(request, Reply(500), same, same)
    with pytest.raises(InvariantError, match="without a message"):
        check_reply(request, Reply(400, json, b'{"error": ""}'), same, same)
    world.harness.run(
        world.components.admin.set_channels_allowed([ChannelId("d" * 26)], False, "test")
    )
    with pytest.raises(AssertionError, match="stored state was changed"):
        check_reply(request, Reply(400, json, b'{"error": "bad"}'), same, world.harness.snapshot())


# --- the strategies' starting points are accepted ------------------------------------------


def test_valid_pexip_credentials_get_a_conference_and_store_events(world: World) -> None:
    auth = ((b"authorization", world.pexip_authorization()),)
    query = f"local_alias={quote(world.alias())}".encode()
    policy = world.harness.exchange(
        RawRequest("GET", "/api/pexip/policy/v1/service/configuration", query, auth)
    )
    assert policy.json()["result"]["service_type"] == "conference"
    body = orjson.dumps(valid_envelope(world))
    sink = world.harness.exchange(RawRequest("POST", "/api/pexip/event_sink", b"", auth, (body,)))
    assert sink.status == 200


def test_a_valid_command_token_gets_an_answer(world: World) -> None:
    form = {
        "token": world.command_token,
        "team_id": world.team_id,
        "channel_id": world.channel_id,
        "user_id": world.member_id,
        "text": "help",
    }
    reply = world.harness.exchange(
        RawRequest("POST", "/api/mattermost/command", body_chunks=(form_bytes(list(form.items())),))
    )
    assert reply.status == 200 and reply.json()["text"]


def test_a_signed_button_is_honoured(world: World) -> None:
    click = {
        "user_id": world.member_id,
        "channel_id": world.channel_id,
        "context": world.button_context("leave"),
    }
    reply = world.harness.exchange(
        RawRequest("POST", "/api/mattermost/action", body_chunks=(orjson.dumps(click),))
    )
    assert reply.status == 200 and "Disconnect" in reply.json()["ephemeral_text"]


def test_a_join_link_and_the_stable_link_lead_on(world: World) -> None:
    joined = world.harness.exchange(RawRequest("GET", f"/join/{world.join_token()}"))
    stable = world.harness.exchange(RawRequest("GET", f"/meet/{world.channel_id}"))
    assert joined.status in (200, 302) and stable.status == 302


def test_a_signed_zoom_webhook_is_accepted(world: World) -> None:
    body = orjson.dumps({"event": "meeting.started", "payload": {"object": {"id": "1"}}})
    query = f"secret={quote(world.webhook_secret)}".encode()
    headers = tuple(signed(body, str(int(time.time()))))
    reply = world.harness.exchange(RawRequest("POST", "/api/zoom/webhook", query, headers, (body,)))
    assert reply.status == 200


def test_a_valid_admin_session_saves_a_setting(world: World) -> None:
    cookie, csrf = world.admin_session()
    form = form_bytes([("csrf", csrf), ("ringing_timeout", "45")])
    headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()),)
    reply = world.harness.exchange(RawRequest("POST", "/admin/settings", b"", headers, (form,)))
    assert reply.status == 303
    assert world.harness.run(world.components.admin.settings()).ringing_timeout == 45
