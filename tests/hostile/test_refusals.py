"""Each refusal of the web layer, one example apiece: the status, a message saying what was wrong,
and nothing stored. The properties find these by chance; these tests make sure, every run."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson

from tests.hostile.conftest import World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import form_bytes
from tests.hostile.test_pexip import valid_envelope
from tests.hostile.test_zoom_webhook import signed


def admin_post(
    world: World, path: str, fields: list[tuple[str, str]], *extra: Header
) -> RawRequest:
    cookie, _ = world.admin_session()
    headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()), *extra)
    return RawRequest("POST", path, b"", headers, (form_bytes(fields),))


def csrf_of(world: World, request: RawRequest) -> str:
    cookie = next(v for k, v in request.headers if k == b"cookie").decode().partition("=")[2]
    session = world.harness.run(world.components.console.session(cookie))
    assert session is not None
    csrf: str = session.csrf_token
    return csrf


def with_csrf(world: World, path: str, fields: list[tuple[str, str]]) -> RawRequest:
    probe = admin_post(world, path, [])
    csrf = csrf_of(world, probe)
    return RawRequest("POST", path, b"", probe.headers, (form_bytes([("csrf", csrf), *fields]),))


# --- the admin console -------------------------------------------------------------------


def test_an_admin_sign_in_link_works_once(world: World) -> None:
    token = world.components.console.login_link_token(world.admin_id)
    query = f"token={quote(token)}".encode()
    proof = (world.identity_header(world.admin_id),)
    first = world.harness.exchange(RawRequest("GET", "/admin/login", query, proof))
    cookie = first.header("set-cookie") or ""
    assert first.status == 303 and "httponly" in cookie.lower() and "Path=/;" in cookie
    again = world.harness.exchange(
        RawRequest("GET", "/admin/login", query, proof), refusal_expected=True
    )
    assert again.status == 403 and "used already" in again.message()


def test_an_oversized_admin_form_is_refused_with_413(world: World) -> None:
    request = with_csrf(world, "/admin/settings", [("alias_prefix", "x" * 300_000)])
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 413 and "too large" in reply.message()


def test_a_secret_longer_than_500_characters_is_refused_and_nothing_saved(world: World) -> None:
    request = with_csrf(
        world, "/admin/settings", [("ringing_timeout", "33"), ("zoom_client_secret", "s" * 501)]
    )
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "at most 500 characters" in reply.message()


def test_an_invalid_setting_is_refused_and_nothing_saved(world: World) -> None:
    request = with_csrf(world, "/admin/settings", [("ringing_timeout", "-5")])
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "ringing_timeout" in reply.message()


def test_regenerating_credentials_needs_the_confirmation(world: World) -> None:
    unconfirmed = world.harness.exchange(with_csrf(world, "/admin/pexip/regenerate", []))
    assert unconfirmed.status == 303
    before = world.components.state.credentials
    confirmed = world.harness.exchange(
        with_csrf(world, "/admin/pexip/regenerate", [("confirm", "yes")])
    )
    world.harness.run(world.components.state.refresh())
    assert confirmed.status == 200 and world.components.state.credentials != before


def test_signing_out_ends_the_session(world: World) -> None:
    request = with_csrf(world, "/admin/logout", [])
    assert world.harness.exchange(request).status == 200
    cookie = next(v for k, v in request.headers if k == b"cookie")
    page = world.harness.exchange(
        RawRequest("GET", "/admin", headers=((b"cookie", cookie),)), refusal_expected=True
    )
    assert page.status == 401 and "/meet admin" in page.message()


def test_admin_pages_render_for_a_signed_in_admin(world: World) -> None:
    cookie, _ = world.admin_session()
    headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()),)
    for page in ("/admin/pexip", "/admin/pexip/regenerate", "/admin/settings?saved=1"):
        path, _, query = page.partition("?")
        assert (
            world.harness.exchange(RawRequest("GET", path, query.encode(), headers)).status == 200
        )


# --- links and sign-in -------------------------------------------------------------------


def test_a_sign_in_mattermost_did_not_complete_is_refused(world: World) -> None:
    sign_in = world.mattermost_oauth_state()
    query = urlencode({"state": sign_in.state, "error": "access_denied"}).encode()
    headers = ((b"cookie", sign_in.cookie()),)
    reply = world.harness.exchange(
        RawRequest("GET", "/oauth/mattermost/callback", query, headers), refusal_expected=True
    )
    assert reply.status == 400 and "did not complete" in reply.message()


def test_someone_outside_a_private_channel_cannot_sign_in_to_its_meeting(world: World) -> None:
    private = world.mattermost.add_channel("Board", kind="P", team_id=world.team_id)
    world.mattermost.channels[private]["members"] = [world.member_id]
    world.mattermost.codes["outsider-code"] = world.outsider_id
    sign_in = world.mattermost_oauth_state(private)
    query = urlencode({"state": sign_in.state, "code": "outsider-code"}).encode()
    headers = ((b"cookie", sign_in.cookie()),)
    reply = world.harness.exchange(
        RawRequest("GET", "/oauth/mattermost/callback", query, headers), refusal_expected=True
    )
    assert reply.status == 403


def test_the_embedded_meeting_page_may_be_framed_only_by_mattermost(world: World) -> None:
    world.harness.run(world.components.admin.change_setting("embedded_experience", True, "test"))
    world.harness.run(world.components.state.refresh())
    try:
        reply = world.harness.exchange(
            RawRequest("GET", f"/join/{world.join_token()}", headers=(world.identity_header(),))
        )
    finally:
        world.harness.run(
            world.components.admin.change_setting("embedded_experience", False, "test")
        )
        world.harness.run(world.components.state.refresh())
    policy = reply.header("content-security-policy") or ""
    assert reply.status == 200 and "frame-ancestors 'self' http://mattermost.test" in policy


# --- Mattermost's endpoints -------------------------------------------------------------


def test_an_oversized_command_is_refused_with_413(world: World) -> None:
    body = form_bytes([("token", world.command_token), ("text", "x" * (1024 * 1024 + 1))])
    reply = world.harness.exchange(
        RawRequest("POST", "/api/mattermost/command", body_chunks=(body,)), refusal_expected=True
    )
    assert reply.status == 413


def test_a_click_on_a_forged_button_is_refused_with_403(world: World) -> None:
    context = {**world.button_context(), "target": "forged"}
    click = {"user_id": world.member_id, "channel_id": world.channel_id, "context": context}
    reply = world.harness.exchange(
        RawRequest("POST", "/api/mattermost/action", body_chunks=(orjson.dumps(click),)),
        refusal_expected=True,
    )
    assert reply.status == 403 and "not valid" in reply.message()


# --- the event sink -------------------------------------------------------------------------


def sink(world: World, chunks: tuple[bytes, ...], disconnect: bool = False) -> RawRequest:
    auth = ((b"authorization", world.pexip_authorization()),)
    return RawRequest("POST", "/api/pexip/event_sink", b"", auth, chunks, disconnect)


def test_an_event_sink_body_over_16_mib_is_refused_while_streaming(world: World) -> None:
    chunk = b" " * (1024 * 1024)
    reply = world.harness.exchange(sink(world, (chunk,) * 20), refusal_expected=True)
    assert reply.status == 413 and reply.received <= 17 * len(chunk)


def test_an_event_sink_post_cut_short_stores_nothing(world: World) -> None:
    body = orjson.dumps(valid_envelope(world))
    reply = world.harness.exchange(sink(world, (body[:20],), disconnect=True))
    assert reply.status == 400


def test_an_unknown_policy_request_is_a_404_that_says_so(world: World) -> None:
    auth = ((b"authorization", world.pexip_authorization()),)
    reply = world.harness.exchange(
        RawRequest("GET", "/api/pexip/no/such", b"", auth), refusal_expected=True
    )
    assert reply.status == 404 and "no such policy request" in reply.message()


# --- Zoom ---------------------------------------------------------------------------------


def test_a_signed_zoom_webhook_that_is_not_a_json_event_is_refused(world: World) -> None:
    query = f"secret={quote(world.webhook_secret)}".encode()
    for content_type, body, says in [
        (b"text/plain", b"{}", "expected application/json"),
        (b"application/json", b"{", "not valid JSON"),
        (b"application/json", b"[]", "expected a Zoom event"),
    ]:
        headers = ((b"content-type", content_type), *signed(body)[1:])
        request = RawRequest("POST", "/api/zoom/webhook", query, headers, (body,))
        reply = world.harness.exchange(request, refusal_expected=True)
        assert reply.status == 400 and says in reply.message()
    oversized = RawRequest(
        "POST", "/api/zoom/webhook", query, signed(b"")[:1], (b"x" * (1024 * 1024 + 1),)
    )
    reply = world.harness.exchange(oversized, refusal_expected=True)
    assert reply.status == 413 and "too large" in reply.message()


def test_a_signed_zoom_url_validation_without_a_plain_token_is_refused(world: World) -> None:
    query = f"secret={quote(world.webhook_secret)}".encode()
    body = orjson.dumps({"event": "endpoint.url_validation", "payload": {}})
    request = RawRequest("POST", "/api/zoom/webhook", query, tuple(signed(body)), (body,))
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "plainToken" in reply.message()


def test_an_unsigned_zoom_body_is_refused_before_it_is_parsed(world: World) -> None:
    # The signature is checked first: an unsigned body learns nothing about its parsing.
    query = f"secret={quote(world.webhook_secret)}".encode()
    headers = ((b"content-type", b"application/json"),)
    request = RawRequest("POST", "/api/zoom/webhook", query, headers, (b"{",))
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 401 and "signature" in reply.message()


def test_a_zoom_connect_link_leads_to_zoom_with_a_browser_bound_cookie(world: World) -> None:
    sign_in = world.zoom_oauth_state()
    query = f"state={quote(sign_in.state)}".encode()
    reply = world.harness.exchange(
        RawRequest("GET", "/zoom/oauth/start", query, (world.identity_header(),))
    )
    cookie = reply.header("set-cookie") or ""
    assert reply.status == 302 and f"meetbridge_zoom_oauth={sign_in.cookie_value}" in cookie
    assert "httponly" in cookie.lower()


def test_zoom_cancelling_the_connection_is_a_400(world: World) -> None:
    sign_in = world.zoom_oauth_state()
    query = urlencode({"state": sign_in.state, "error": "access_denied"}).encode()
    headers = ((b"cookie", sign_in.cookie()),)
    reply = world.harness.exchange(
        RawRequest("GET", "/zoom/oauth/callback", query, headers), refusal_expected=True
    )
    assert reply.status == 400 and "did not grant access" in reply.message()


def test_a_click_on_a_button_signed_in_the_old_format_says_it_is_outdated(world: World) -> None:
    context = {**world.button_context()}
    del context["v"]
    click = {"user_id": world.member_id, "channel_id": world.channel_id, "context": context}
    reply = world.harness.exchange(
        RawRequest("POST", "/api/mattermost/action", body_chunks=(orjson.dumps(click),)),
        refusal_expected=True,
    )
    assert reply.status == 403 and "before a meetbridge update" in reply.message()
