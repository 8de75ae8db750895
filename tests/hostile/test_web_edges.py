"""One example apiece for the web layer's rarer refusals and answers, which the properties reach
only by chance: sign-in flows that do not belong together, dialog submissions that close or
carry no form, a connect link for no user, the admin console's channel catalogue."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web import identity
from meetbridge.web.asgi import read_body
from tests.hostile.conftest import World
from tests.hostile.harness import RawRequest
from tests.hostile.test_dialog import post, submission
from tests.hostile.test_refusals import with_csrf


def sign_in_callback(world: World, state: dict[str, Any], flow: dict[str, Any]) -> RawRequest:
    """The Mattermost callback with a ``state`` and the flow cookie filed under its nonce."""
    core = world.components.core
    now = core.clock.now()
    token = core.links.encode(identity.STATE_PURPOSE, state, now, 600.0)
    cookie = core.links.encode(identity.FLOW_PURPOSE, flow, now, 600.0)
    name = identity._flow_cookie(str(state.get("n", "")))
    query = urlencode({"state": token, "code": world.oauth_code}).encode()
    return RawRequest(
        "GET", "/oauth/mattermost/callback", query, ((b"cookie", f"{name}={cookie}".encode()),)
    )


def test_a_sign_in_state_without_a_nonce_belongs_to_no_browser(world: World) -> None:
    request = sign_in_callback(world, {"c": world.channel_id}, {"n": "x"})
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "did not start in this browser" in reply.message()


def test_a_flow_cookie_of_another_sign_in_is_refused(world: World) -> None:
    # The cookie is filed under this state's nonce but was made for another one.
    request = sign_in_callback(world, {"c": world.channel_id, "n": "mine"}, {"n": "theirs"})
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "did not start in this browser" in reply.message()


def test_a_flow_cookie_with_fields_of_the_wrong_type_is_refused(world: World) -> None:
    flow = {"n": "mine", "r": 5, "u": world.member_id, "k": "/join"}
    request = sign_in_callback(world, {"n": "mine"}, flow)
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "did not start in this browser" in reply.message()


def test_a_stable_link_sign_in_for_what_is_not_a_channel_is_refused(world: World) -> None:
    request = sign_in_callback(world, {"c": "not-a-channel", "n": "mine"}, {"n": "mine"})
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "not valid" in reply.message()


def test_a_proof_for_a_path_that_takes_no_identity_sets_no_cookie(world: World) -> None:
    flow = {"n": "mine", "r": "/join/x", "u": world.member_id, "k": "/elsewhere"}
    reply = world.harness.exchange(sign_in_callback(world, {"n": "mine"}, flow))
    assert reply.status == 302 and reply.header("location") == "/join/x"
    cookies = [v for k, v in reply.headers if k == b"set-cookie"]
    assert not any(
        identity.IDENTITY_COOKIE.encode() in c and b"Max-Age=0" not in c for c in cookies
    )


def test_a_cancelled_dialog_changes_nothing(world: World) -> None:
    document = {**submission(world, world.dialog_state(), world.admin_id), "cancelled": True}
    before = world.harness.snapshot()
    reply = world.harness.exchange(post(document))
    assert reply.status == 200 and reply.json() == {}
    assert world.harness.snapshot() == before


def test_a_dialog_whose_submission_is_not_an_object_is_read_as_empty(world: World) -> None:
    state = world.dialog_state("admin_allow")
    reply = world.harness.exchange(post(submission(world, state, world.admin_id, "x")))
    assert reply.status == 200 and reply.json() == {}


def test_a_zoom_connect_link_for_no_user_is_refused(world: World) -> None:
    link = world.components.zoom.connect_link(UserId("NOT-A-USER"), ChannelId(world.channel_id))
    state = parse_qs(urlsplit(link).query)["state"][0]
    request = RawRequest("GET", "/zoom/oauth/start", f"state={quote(state)}".encode())
    reply = world.harness.exchange(request, refusal_expected=True)
    assert reply.status == 400 and "not valid" in reply.message()


def test_refreshing_the_channel_catalogue_leads_back_to_the_channels(world: World) -> None:
    reply = world.harness.exchange(with_csrf(world, "/admin/channels/refresh", []))
    assert reply.status == 303 and reply.header("location") == "/admin/channels"


def test_refreshing_the_catalogue_while_mattermost_is_down_is_a_502(world: World) -> None:
    request = with_csrf(world, "/admin/channels/refresh", [])  # signed in while it is up
    world.mattermost.down = True
    try:
        # An upstream failure is the one 5xx allowed: send, not exchange (which forbids 5xx).
        reply = world.harness.send(request)
    finally:
        world.mattermost.down = False
    assert reply.status == 502 and "Mattermost did not answer" in reply.message()


def test_the_body_reader_gives_nothing_past_its_limit(world: World) -> None:
    # Behind the size middleware this never happens; the reader still refuses on its own.
    messages = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]

    async def receive() -> dict[str, Any]:
        return messages[0]

    assert world.harness.run(read_body(receive, 5)) is None


def test_moving_channels_in_the_admin_console_says_how_many_moved(world: World) -> None:
    fields = [("move", "allow"), ("channel", world.channel_id), ("channel", "../x"), ("aq", "p")]
    moved = world.harness.exchange(with_csrf(world, "/admin/channels", fields))
    notice = moved.header("set-cookie") or ""
    assert moved.status == 303 and moved.header("location") == "/admin/channels?aq=p"
    assert "1 channel allowed." in unquote(notice), "the id that is not an id is not counted"
    nothing = world.harness.exchange(with_csrf(world, "/admin/channels", [("move", "sideways")]))
    assert nothing.status == 303 and nothing.header("set-cookie") is None


def test_a_later_page_of_the_audit_log_is_served(world: World) -> None:
    cookie, _ = world.admin_session()
    headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()),)
    for query in (b"page=2", b"page=99999"):
        reply = world.harness.exchange(RawRequest("GET", "/admin/audit", query, headers))
        assert reply.status == 200


def test_a_policy_request_that_is_not_a_get_is_a_405(world: World) -> None:
    auth = ((b"authorization", world.pexip_authorization()),)
    path = "/api/pexip/policy/v1/participant/properties"
    reply = world.harness.exchange(RawRequest("POST", path, b"", auth), refusal_expected=True)
    assert reply.status == 405 and "GET" in (reply.header("allow") or reply.message())
