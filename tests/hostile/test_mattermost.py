"""Hostile input to the endpoints Mattermost calls: the /meet command and button actions."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import RawRequest
from tests.hostile.strategies import (
    CONTENT_TYPES,
    bodies,
    extra_headers,
    form_bytes,
    header_value,
    hostile_bytes,
    hostile_json,
    hostile_text,
    json_bytes,
    junk_query,
    mutated_form,
    mutated_object,
)

COMMAND = "/api/mattermost/command"
ACTION = "/api/mattermost/action"

COMMAND_TEXTS = [
    "",
    "start Sprint review",
    "join",
    "status",
    "link",
    "help",
    "admin",
    "engine zoom",
    "engine",
    "connect",
    "disconnect",
    "settings",
    "admin allow",
    "start @all [Recording ready](https://evil.example)",
]


def command_form(world: World, user_id: str) -> dict[str, str]:
    return {
        "token": world.command_token,
        "team_id": world.team_id,
        "team_domain": "engineering",
        "channel_id": world.channel_id,
        "channel_name": "planning",
        "user_id": user_id,
        "user_name": "alice",
        "command": "/meet",
        "text": "status",
        "response_url": "http://mattermost.test/hooks/commands/x",
        "trigger_id": "trigger",
    }


def test_the_command_refuses_or_answers_hostile_fields_with_a_valid_token(world: World) -> None:
    texts = st.one_of(st.sampled_from(COMMAND_TEXTS), hostile_text())
    users = st.sampled_from([world.member_id, world.admin_id, world.outsider_id])

    @HOSTILE
    @given(user=users, text=texts, form=st.data(), headers=extra_headers())
    def check(
        user: str, text: str, form: st.DataObject, headers: list[tuple[bytes, bytes]]
    ) -> None:
        valid = {**command_form(world, user), "text": text}
        pairs = form.draw(mutated_form(valid))
        body = form_bytes(pairs)
        request = RawRequest(
            "POST",
            COMMAND,
            headers=((b"content-type", b"application/x-www-form-urlencoded"), *headers),
            body_chunks=tuple(form.draw(bodies(st.just(body)))),
        )
        world.harness.exchange(request)

    check()


def test_the_command_stores_nothing_without_the_command_token(world: World) -> None:
    tokens = st.one_of(hostile_text(), st.just(world.command_token + "x"), st.just(""))

    @HOSTILE
    @given(
        token=tokens,
        authorization=st.one_of(st.none(), header_value),
        method=st.sampled_from(["POST", "GET"]),
    )
    def check(token: str, authorization: bytes | None, method: str) -> None:
        assume(token != world.command_token)
        if authorization is not None:
            given_token = authorization.decode("latin-1").removeprefix("Token ")
            assume(given_token != world.command_token)
        form = form_bytes(list({**command_form(world, world.admin_id), "token": token}.items()))
        headers = [] if authorization is None else [(b"authorization", authorization)]
        if method == "GET":
            request = RawRequest("GET", COMMAND, form, tuple(headers))
        else:
            request = RawRequest("POST", COMMAND, b"", tuple(headers), (form,))
        reply = world.harness.exchange(request, refusal_expected=True)
        # A POST body over the route's 64 KiB is refused while streaming, before its token.
        oversized = method == "POST" and len(form) > 64 * 1024
        assert reply.status == (413 if oversized else 401)

    check()


def test_the_command_refuses_bodies_that_are_not_forms(world: World) -> None:
    @HOSTILE
    @given(
        body=bodies(st.one_of(hostile_bytes(), hostile_json.map(json_bytes))),
        content_type=st.sampled_from(CONTENT_TYPES),
        query=junk_query,
        method=st.sampled_from(["POST", "GET", "PUT"]),
    )
    def check(body: list[bytes], content_type: bytes, query: bytes, method: str) -> None:
        request = RawRequest(method, COMMAND, query, ((b"content-type", content_type),), body)
        world.harness.exchange(request)

    check()


# --- buttons -------------------------------------------------------------------------------


def click(world: World, context: Any, user_id: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "user_name": "alice",
        "channel_id": world.channel_id,
        "channel_name": "planning",
        "team_id": world.team_id,
        "team_domain": "engineering",
        "post_id": "p" * 26,
        "trigger_id": "trigger",
        "type": "",
        "data_source": "",
        "context": context,
    }


@st.composite
def hostile_contexts(draw: st.DrawFn, world: World) -> Any:
    action = draw(st.sampled_from(["join", "leave", "ring_join", "zoomjoin", "admin_allow"]))
    context = world.button_context(action, draw(st.sampled_from(["", "1", world.channel_id])))
    how = draw(st.sampled_from(["valid", "mutated", "hostile"]))
    if how == "valid":
        return context
    if how == "mutated":
        return draw(mutated_object(context))
    return draw(hostile_json)


def test_button_actions_refuse_forged_and_malformed_clicks(world: World) -> None:
    users = st.sampled_from([world.member_id, world.admin_id, world.outsider_id])

    @HOSTILE
    @given(data=st.data(), user=users, content_type=st.sampled_from(CONTENT_TYPES))
    def check(data: st.DataObject, user: str, content_type: bytes) -> None:
        context = data.draw(hostile_contexts(world))
        document = data.draw(mutated_object(click(world, context, user)))
        body = data.draw(bodies(st.just(json_bytes(document))))
        request = RawRequest(
            "POST", ACTION, headers=((b"content-type", content_type),), body_chunks=body
        )
        world.harness.exchange(request)

    check()


def test_button_actions_refuse_bodies_that_are_not_clicks(world: World) -> None:
    @HOSTILE
    @given(body=bodies(st.one_of(hostile_bytes(), hostile_json.map(json_bytes))))
    def check(body: list[bytes]) -> None:
        request = RawRequest("POST", ACTION, body_chunks=body)
        world.harness.exchange(request)

    check()
