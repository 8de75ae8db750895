"""Hostile input to the links people open: /join/{token}, /meet/{channel_id}, and the OAuth
callbacks of Mattermost and Zoom (plus Zoom's connect start)."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, SignIn, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import (
    extra_headers,
    hostile_bytes,
    hostile_text,
    is_valid_unicode,
    junk_query,
    mutated_form,
    raw_query,
)


def path_segment() -> st.SearchStrategy[str]:
    """A path segment as a server hands it over: percent-decoded, invalid UTF-8 replaced."""
    return st.one_of(
        hostile_text().filter(is_valid_unicode).map(lambda t: t.replace("/", "")),
        hostile_bytes().map(lambda b: unquote(quote(b, safe="")).replace("/", "")),
    )


@st.composite
def mangled_token(draw: st.DrawFn, token: str) -> str:
    """A real token with a part cut, swapped, extended or replaced."""
    body, _, signature = token.partition(".")
    # Half the time valid, so that the checks behind the token's are reached too.
    how = draw(
        st.sampled_from(["valid"] * 6 + ["cut", "flip", "append", "swap", "hostile", "dots"])
    )
    if how == "valid":
        return token
    if how == "cut":
        return token[: draw(st.integers(0, len(token) - 1))]
    if how == "flip":
        at = draw(st.integers(0, len(token) - 1))
        return token[:at] + draw(st.sampled_from("A_-.é\x00")) + token[at + 1 :]
    if how == "append":
        return token + draw(path_segment())
    if how == "swap":
        return f"{signature}.{body}"
    if how == "dots":
        return f"{body}..{signature}"
    return draw(path_segment())


def test_join_links_refuse_forged_and_malformed_tokens(world: World) -> None:
    @HOSTILE
    @given(data=st.data(), query=junk_query, headers=extra_headers())
    def check(data: st.DataObject, query: bytes, headers: list[Header]) -> None:
        token = data.draw(mangled_token(world.join_token()))
        assume(token)
        # With the member's proven identity, a forged token meets the link checks themselves.
        if data.draw(st.booleans()):
            headers = [*headers, world.identity_header()]
        reply = world.harness.exchange(RawRequest("GET", f"/join/{token}", query, tuple(headers)))
        assert reply.status in (200, 302, 400, 403, 404)

    check()


def test_stable_links_refuse_what_is_not_a_channel(world: World) -> None:
    segments = st.one_of(
        path_segment(), st.just(world.channel_id), st.just(world.channel_id.upper())
    )

    @HOSTILE
    @given(segment=segments, query=junk_query, headers=extra_headers())
    def check(segment: str, query: bytes, headers: list[Header]) -> None:
        assume(segment)
        reply = world.harness.exchange(RawRequest("GET", f"/meet/{segment}", query, tuple(headers)))
        # A GET's body framing is checked before routing: a lying Content-Length is a 400/413.
        framing = any(name == b"content-length" for name, _ in headers)
        assert reply.status in ((302, 404, 400, 413) if framing else (302, 404))

    check()


@st.composite
def callback_request(draw: st.DrawFn, path: str, sign_in: SignIn, code: str) -> RawRequest:
    state, nonce = sign_in.state, sign_in.cookie_value
    pairs = draw(mutated_form({"code": code, "state": state}))
    pairs = [(k, draw(mangled_token(v)) if k == "state" and v == state else v) for k, v in pairs]
    query = raw_query(pairs) if draw(st.integers(0, 3)) else draw(junk_query)
    cookie = draw(
        st.one_of(
            st.just(nonce),
            st.just(nonce),
            st.none(),
            hostile_text(40).filter(lambda t: ";" not in t and is_valid_unicode(t)),
        )
    )
    headers: list[Header] = draw(extra_headers())
    if cookie is not None:
        headers.append((b"cookie", sign_in.cookie(cookie)))
    return RawRequest("GET", path, query, tuple(headers))


def test_the_mattermost_sign_in_callback_refuses_forged_state_cookies_and_codes(
    world: World,
) -> None:
    @HOSTILE
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        request = data.draw(
            callback_request(
                "/oauth/mattermost/callback",
                world.mattermost_oauth_state(),
                world.oauth_code,
            )
        )
        world.harness.exchange(request)

    check()


def test_the_zoom_connect_callback_refuses_forged_state_cookies_and_codes(world: World) -> None:
    @HOSTILE
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        code = data.draw(st.sampled_from(["not-a-code", ""]))
        request = data.draw(
            callback_request("/zoom/oauth/callback", world.zoom_oauth_state(), code)
        )
        world.harness.exchange(request)

    check()


def test_the_zoom_connect_start_refuses_forged_state(world: World) -> None:
    @HOSTILE
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        state = world.zoom_oauth_state().state
        query = raw_query([("state", data.draw(mangled_token(state)))])
        headers = (world.identity_header(),) if data.draw(st.booleans()) else ()
        query = data.draw(st.sampled_from([query, b""]))
        reply = world.harness.exchange(RawRequest("GET", "/zoom/oauth/start", query, headers))
        assert reply.status in (302, 400)

    check()
