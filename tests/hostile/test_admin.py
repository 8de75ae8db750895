"""Hostile input to the admin console: sign-in links, sessions, CSRF and the forms."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from meetbridge.domain.settings import SECRET_SETTINGS, RuntimeSettings
from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import Header, RawRequest
from tests.hostile.strategies import (
    CONTENT_TYPES,
    bodies,
    form_bytes,
    form_value,
    header_value,
    hostile_bytes,
    hostile_text,
    junk_query,
    mutated_form,
)

ORIGIN = b"https://meetbridge.example.com"
POSTS = [
    "/admin/settings",
    "/admin/channels",
    "/admin/channels/refresh",
    "/admin/pexip/regenerate",
    "/admin/logout",
]


def settings_form(csrf: str) -> dict[str, str]:
    current = RuntimeSettings().model_dump(mode="json")
    form = {key: str(value) for key, value in current.items() if not isinstance(value, bool)}
    return {"csrf": csrf, **form, "present": "allow_guests", "allow_guests": "on"}


def secret_form(csrf: str) -> dict[str, str]:
    return {"csrf": csrf, **{key: "s3cret-" * 6 for key in SECRET_SETTINGS}}


def channels_form(world: World, csrf: str) -> dict[str, str]:
    return {"csrf": csrf, "move": "disallow", "channel": world.channel_id, "aq": "plan", "ap": "1"}


def setting_values() -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        form_value,
        st.sampled_from(["-1", "0", "99999999999999999999", "1e9", "on", "true", "https://x"]),
    )


def test_admin_forms_with_a_valid_session_refuse_hostile_fields_cleanly(world: World) -> None:
    @HOSTILE
    @given(data=st.data(), origin=st.sampled_from([ORIGIN, None]))
    def check(data: st.DataObject, origin: bytes | None) -> None:
        cookie, csrf = world.admin_session()
        path, valid = data.draw(
            st.sampled_from(
                [
                    ("/admin/settings", settings_form(csrf)),
                    ("/admin/settings", secret_form(csrf)),
                    ("/admin/channels", channels_form(world, csrf)),
                    ("/admin/pexip/regenerate", {"csrf": csrf, "confirm": "yes"}),
                    ("/admin/channels/refresh", {"csrf": csrf}),
                ]
            )
        )
        overrides = {k: setting_values() for k in valid if k != "csrf"}
        pairs = data.draw(mutated_form(valid, overrides))
        headers: list[Header] = [
            (b"cookie", f"meetbridge_admin={cookie}".encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ]
        if origin is not None:
            headers.append((b"origin", origin))
        body = data.draw(bodies(st.just(form_bytes(pairs))))
        world.harness.exchange(RawRequest("POST", path, b"", tuple(headers), tuple(body)))

    check()


def test_admin_posts_without_the_session_csrf_or_origin_are_refused(world: World) -> None:
    @HOSTILE
    @given(
        path=st.sampled_from(POSTS),
        fault=st.sampled_from(["cookie", "csrf", "origin"]),
        cookie=hostile_text(48).filter(lambda t: t.isascii() and ";" not in t),
        csrf=form_value,
        origin=header_value,
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(
        path: str, fault: str, cookie: str, csrf: str | bytes, origin: bytes, content_type: bytes
    ) -> None:
        good_cookie, good_csrf = world.admin_session()
        assume(csrf != good_csrf and origin != ORIGIN and cookie != good_cookie)
        form = {"csrf": good_csrf, "confirm": "yes", "move": "allow", "channel": world.channel_id}
        headers: list[Header] = [
            (
                b"cookie",
                f"meetbridge_admin={cookie if fault == 'cookie' else good_cookie}".encode(),
            ),
            (b"content-type", content_type),
        ]
        if fault == "csrf":
            form["csrf"] = csrf  # type: ignore[assignment]
        if fault == "origin":
            headers.append((b"origin", origin))
        body = form_bytes(list(form.items()))
        request = RawRequest("POST", path, b"", tuple(headers), (body,))
        world.harness.exchange(request, refusal_expected=True)

    check()


def test_admin_sign_in_refuses_forged_links(world: World) -> None:
    from tests.hostile.test_links import mangled_token

    @HOSTILE
    @given(data=st.data(), query=junk_query)
    def check(data: st.DataObject, query: bytes) -> None:
        token = data.draw(
            mangled_token(world.components.console.login_link_token(world.outsider_id))
        )
        from urllib.parse import quote

        raw = b"token=" + quote(token, errors="surrogatepass").encode() if token else query
        # The outsider's own Mattermost identity: the forged link is all that stands in the way.
        headers = (world.identity_header(world.outsider_id),)
        reply = world.harness.exchange(RawRequest("GET", "/admin/login", raw, headers))
        assert reply.status == 403, "only system admins may sign in; this link names a member"

    check()


def test_admin_pages_refuse_hostile_query_strings_and_cookies(world: World) -> None:
    pages = st.sampled_from(
        ["/admin", "/admin/settings", "/admin/channels", "/admin/meetings", "/admin/audit"]
    )

    @HOSTILE
    @given(
        page=pages,
        query=st.one_of(
            junk_query,
            hostile_bytes().map(lambda b: b"page=" + b.hex().encode()),
            st.sampled_from([b"page=-1", b"page=99999999999", b"ap=0&dp=\xd9\xa3", b"aq=%00"]),
        ),
        signed_in=st.booleans(),
    )
    def check(page: str, query: bytes, signed_in: bool) -> None:
        headers: tuple[Header, ...] = ()
        if signed_in:
            cookie, _ = world.admin_session()
            headers = ((b"cookie", f"meetbridge_admin={cookie}".encode()),)
        reply = world.harness.exchange(RawRequest("GET", page, query, headers))
        assert reply.status == (200 if signed_in else 401)

    check()
