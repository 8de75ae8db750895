"""Non-ASCII, NUL and huge text where a secret or signature is expected: every endpoint answers
with a refusal (4xx) or a normal answer, never a 500 (item 1 of issue 9)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from meetbridge.domain.aliases import service_tag_for_channel
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.zoom import service as zoom_service
from meetbridge.web import identity
from meetbridge.web import zoom as zoom_web
from tests.conftest import RunningApp
from tests.integration.conftest import PARTICIPANT_PROPERTIES, SERVICE_CONFIGURATION, alias

CHANNEL = "k3f9q1x7ab8cd2ef4gh6ij8kl0"
USER = "u3f9q1x7ab8cd2ef4gh6ij8kl0"
TEAM = "t3f9q1x7ab8cd2ef4gh6ij8kl0"

HOSTILE = ["é", "mbu.é.é", "\x00", f"mbu.{USER}.{'é' * 24}", "😀" * 20, "x" * 20_000]

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize("call_tag", HOSTILE)
async def test_non_ascii_call_tag_in_a_policy_request_is_refused_as_an_invalid_tag(
    service: RunningApp, call_tag: str
) -> None:
    """A meetbridge meeting admits only legs with a valid meetbridge tag (issue 20): a hostile
    tag is an invalid one, answered with the usual refusal, never an error."""
    query = {
        "call_tag": call_tag,
        "service_tag": service_tag_for_channel(ChannelId(CHANNEL)),
        "service_name": alias(CHANNEL),
        "remote_display_name": call_tag,
    }
    response = await service.http.get(PARTICIPANT_PROPERTIES, params=query, headers=service.auth)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "success" and answer["action"] == "reject", answer
    assert "only people who join through meetbridge" in answer["result"]["reject_reason"]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_aliases_and_tags_in_policy_requests_get_normal_answers(
    service: RunningApp, text: str
) -> None:
    for query in (
        {"local_alias": text},
        {"local_alias": alias(CHANNEL) + text},
        {"local_alias": "matt-" + text, "call_tag": text, "service_tag": text},
    ):
        response = await service.http.get(SERVICE_CONFIGURATION, params=query, headers=service.auth)
        assert response.status_code in (200, 404), response.text
        assert response.json()["action"] in ("continue", "reject")
        response = await service.http.get(
            PARTICIPANT_PROPERTIES, params=query, headers=service.auth
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("text", HOSTILE[:-1])
async def test_non_ascii_basic_auth_is_refused_with_401(service: RunningApp, text: str) -> None:
    for header in (f"Basic {text}".encode(), text.encode()):
        response = await service.http.get(
            SERVICE_CONFIGURATION, params={"local_alias": "x"}, headers=[(b"authorization", header)]
        )
        assert response.status_code == 401


@pytest.mark.parametrize("text", HOSTILE)
async def test_non_ascii_join_link_is_refused_not_an_error(service: RunningApp, text: str) -> None:
    response = await service.http.get(f"/join/{quote(text)}.{quote(text)}")
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("text", HOSTILE)
async def test_non_ascii_command_token_is_refused_with_401(service: RunningApp, text: str) -> None:
    service.components.state.command_tokens[TEAM] = "the-real-token"
    form = {"token": text, "team_id": TEAM, "user_id": USER, "channel_id": CHANNEL}
    response = await service.http.post("/api/mattermost/command", data=form)
    assert response.status_code == 401
    response = await service.http.post(
        "/api/mattermost/command",
        data={k: v for k, v in form.items() if k != "token"},
        headers=[(b"authorization", b"Token " + text.encode())],
    )
    assert response.status_code == 401


@pytest.mark.parametrize("text", HOSTILE)
async def test_non_ascii_button_signature_is_refused_with_403(
    service: RunningApp, text: str
) -> None:
    button = service.components.buttons.button("Join", "join", CHANNEL, CHANNEL, USER)
    context: dict[str, Any] = {**button["integration"]["context"], "signature": text}
    click = {"user_id": USER, "channel_id": CHANNEL, "context": context}
    response = await service.http.post("/api/mattermost/action", json=click)
    assert response.status_code == 403


@pytest.mark.parametrize("cookie", ["é", "ÿ" * 30, "\x00"])
async def test_non_ascii_oauth_state_cookie_is_refused_with_400(
    service: RunningApp, cookie: str
) -> None:
    links, now = service.components.core.links, time.time()
    mattermost_state = links.encode(identity.STATE_PURPOSE, {"n": "nonce", "c": CHANNEL}, now, 60)
    zoom_state = links.encode(zoom_service.STATE_PURPOSE, {"n": "nonce", "u": USER}, now, 60)
    for path, name, state in (
        ("/oauth/mattermost/callback", identity._flow_cookie("nonce"), mattermost_state),
        ("/zoom/oauth/callback", zoom_web.COOKIE, zoom_state),
    ):
        response = await service.http.get(
            path,
            params={"state": state, "code": "c"},
            headers=[(b"cookie", f"{name}={cookie}".encode())],
        )
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize("text", HOSTILE[:-1])
async def test_non_ascii_zoom_webhook_secret_and_signature_are_refused_with_401(
    service: RunningApp, text: str
) -> None:
    await service.components.admin.set_secret("zoom_webhook_secret_token", "zoom-secret", "test")
    await service.components.state.refresh()
    response = await service.http.post(
        "/api/zoom/webhook", params={"secret": text}, json={"event": "meeting.started"}
    )
    assert response.status_code == 401
    url = await service.components.zoom.webhook_url()
    response = await service.http.post(
        url.removeprefix("https://meetbridge.example.com"),
        content=b'{"event": "meeting.started", "payload": {}}',
        headers=[
            (b"content-type", b"application/json"),
            (b"x-zm-request-timestamp", str(int(time.time())).encode()),
            (b"x-zm-signature", f"v0={text}".encode()),
        ],
    )
    assert response.status_code == 401, response.text
