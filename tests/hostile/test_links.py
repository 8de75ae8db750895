"""Hostile input to the links people open: /join/{token}, /meet/{channel_id}, and the OAuth
callbacks of Mattermost and Zoom (plus Zoom's connect start)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.hostile import known_holes
from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import (
    extra_headers,
    hostile_bytes,
    hostile_text,
    junk_query,
    mutated_form,
    raw_query,
)


def path_segment() -> st.SearchStrategy[str]:
    """A path segment as a server hands it over: percent-decoded, invalid UTF-8 replaced."""
    return st.one_of(
        hostile_text().filter(known_holes.is_valid_unicode).map(lambda t: t.replace("/", "")),
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


def token_is_known_hole(token: str) -> bool:
    """Issue 9 item 1: a non-ASCII signature part makes hmac.compare_digest raise."""
    return known_holes.non_ascii(token.partition(".")[2])


def test_join_links_refuse_forged_and_malformed_tokens(world: World) -> None:
    @HOSTILE
    @given(data=st.data(), query=junk_query, headers=extra_headers())
    def check(data: st.DataObject, query: bytes, headers: list[Header]) -> None:
        token = data.draw(mangled_token(world.join_token()))
        assume(not token_is_known_hole(token) and token)
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
        assert reply.status in (302, 404)

    check()


def _all(query: bytes, name: str) -> list[str]:
    # Every value, not the first: Starlette's query_params.get() returns the last one.
    return parse_qs(query.decode("latin-1"), keep_blank_values=True).get(name) or [""]


@st.composite
def callback_request(
    draw: st.DrawFn, path: str, state_and_nonce: tuple[str, str], code: str, cookie_name: str
) -> RawRequest:
    state, nonce = state_and_nonce
    pairs = draw(mutated_form({"code": code, "state": state}))
    pairs = [(k, draw(mangled_token(v)) if k == "state" and v == state else v) for k, v in pairs]
    query = raw_query(pairs) if draw(st.integers(0, 3)) else draw(junk_query)
    cookie = draw(
        st.one_of(
            st.just(nonce),
            st.just(nonce),
            st.none(),
            hostile_text(40).filter(lambda t: t.isascii() and ";" not in t),
        )
    )
    headers: list[Header] = draw(extra_headers())
    if cookie is not None:
        headers.append((b"cookie", f"{cookie_name}={cookie}".encode()))
    return RawRequest("GET", path, query, tuple(headers))


def callback_is_known_hole(request: RawRequest) -> bool:
    """Issue 9 item 1: non-ASCII in the state's signature or the cookie reaches compare_digest."""
    states = _all(request.query, "state")
    cookies = b"".join(v for k, v in request.headers if k == b"cookie")
    return any(token_is_known_hole(s) for s in states) or not cookies.isascii()


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
                "meetbridge_oauth",
            )
        )
        assume(not callback_is_known_hole(request))
        world.harness.exchange(request)

    check()


def test_the_zoom_connect_callback_refuses_forged_state_cookies_and_codes(world: World) -> None:
    @HOSTILE
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        code = data.draw(st.sampled_from(["not-a-code", ""]))
        request = data.draw(
            callback_request(
                "/zoom/oauth/callback", world.zoom_oauth_state(), code, "meetbridge_zoom_oauth"
            )
        )
        assume(not callback_is_known_hole(request))
        world.harness.exchange(request)

    check()


def test_the_zoom_connect_start_refuses_forged_state(world: World) -> None:
    @HOSTILE
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        state, _ = world.zoom_oauth_state()
        query = raw_query([("state", data.draw(mangled_token(state)))])
        request = RawRequest("GET", "/zoom/oauth/start", data.draw(st.sampled_from([query, b""])))
        assume(not callback_is_known_hole(request))
        reply = world.harness.exchange(request)
        assert reply.status in (302, 400)

    check()
