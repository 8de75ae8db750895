"""Holes the hostile-input suite found that issue 9 did not list; each fixed, each pinned here."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx2
import orjson

from tests.hostile.conftest import SignIn, World
from tests.hostile.harness import RawRequest

SINK = "/api/pexip/event_sink"


def test_a_bulk_envelope_without_data_is_refused_with_400(world: World) -> None:
    wrapper = {"node": "10.20.0.11", "seq": 1, "version": 2, "time": 1.0, "event": "eventsink_bulk"}
    request = RawRequest(
        "POST",
        SINK,
        headers=((b"authorization", world.pexip_authorization()),),
        body_chunks=(orjson.dumps(wrapper),),
    )
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "'data' must be a list" in reply.message()


def test_an_undecodable_query_string_gets_a_405_or_404_not_a_500(world: World) -> None:
    # uvicorn (httptools) passes high bytes in the query through undecoded; building
    # request.url decodes them as UTF-8 and raised inside the 404/405 handlers.
    for method, path in (("PUT", "/api/mattermost/command"), ("GET", "/no/such/page")):
        reply = world.harness.exchange(RawRequest(method, path, b"\x80=\xff"))
        assert reply.status in (404, 405) and path in reply.message()


def _callback(path: str, sign_in: SignIn, code: str) -> RawRequest:
    query = urlencode({"code": code, "state": sign_in.state}).encode()
    return RawRequest("GET", path, query, ((b"cookie", sign_in.cookie()),))


def test_a_zoom_connect_callback_with_a_code_zoom_refuses_is_a_400(world: World) -> None:
    # Zoom answers 400 invalid_grant for a forged, reused or expired code: the browser's
    # request was bad, meetbridge and Zoom are fine, so no 502.
    request = _callback("/zoom/oauth/callback", world.zoom_oauth_state(), "forged")
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "/meet connect" in reply.message()


def test_a_mattermost_sign_in_callback_with_a_code_mattermost_refuses_is_a_400(
    world: World,
) -> None:
    request = _callback("/oauth/mattermost/callback", world.mattermost_oauth_state(), "forged")
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "sign-in" in reply.message()


def test_the_sign_in_callback_with_the_right_code_leads_to_the_meeting(world: World) -> None:
    # The counterpart of the refusals above: the harness's code really signs the member in.
    request = _callback(
        "/oauth/mattermost/callback", world.mattermost_oauth_state(), world.oauth_code
    )
    reply = world.harness.exchange(request)
    assert reply.status == 302 and "/join/" in (reply.header("location") or "")


def test_a_page_number_that_int_cannot_read_gets_the_first_page(world: World) -> None:
    # str.isdigit() accepts "²" and 5,000-digit numbers; int() refuses both (ValueError: 500).
    cookie, _ = world.admin_session()
    headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()),)
    for query in (b"page=%C2%B2", b"page=" + b"0" * 5000, b"ap=%C2%B2&dp=" + b"9" * 5000):
        path = "/admin/channels" if query.startswith(b"ap") else "/admin/audit"
        reply = world.harness.exchange(RawRequest("GET", path, query, headers))
        assert reply.status == 200


def test_a_personal_link_with_a_query_that_is_not_utf8_goes_to_sign_in(world: World) -> None:
    # The identity gate rebuilt the link from request.url, which decodes the query as UTF-8:
    # b"\x80" made /join (and /admin/login, /zoom) answer 500 to a browser without the proof.
    request = RawRequest("GET", f"/join/{world.join_token()}", b"\x80=\xff")
    reply = world.harness.exchange(request)
    assert reply.status == 302 and "/oauth/authorize" in (reply.header("location") or "")


def test_an_id_that_is_not_an_id_never_reaches_the_mattermost_api(world: World) -> None:
    # A click or dialog names channel and user ids; "../users" would have been another API path
    # called with the bot's token.
    from meetbridge.chat.mattermost.client import MattermostClient

    async def ask() -> list[object]:
        async with httpx2.AsyncClient(
            transport=world.mattermost.transport(), base_url="http://mattermost.test/api/v4"
        ) as http:
            client = MattermostClient(http)
            return [
                await client.get_channel("../users"),
                await client.get_user("me/../../teams"),
                await client.get_channel_member(world.channel_id, "../../x"),
            ]

    asked = len(world.mattermost.requests)
    assert world.harness.run(ask()) == [None, None, None]
    assert len(world.mattermost.requests) == asked
