"""Hostile input to confirmation dialogs (POST /api/mattermost/dialog).

A change made in a user's name waits for that user's confirmation in a Mattermost dialog; the
submission comes back with the dialog's signed, single-use state. Anyone who can reach the URL
can post one, so forged or replayed states, other users' submissions and malformed bodies must
be refused with a 4xx that changes nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import RawRequest
from tests.hostile.strategies import (
    CONTENT_TYPES,
    bodies,
    hostile_bytes,
    hostile_json,
    hostile_text,
    json_bytes,
    mutated_object,
)
from tests.hostile.test_links import mangled_token

DIALOG = "/api/mattermost/dialog"
ACTIONS = ["admin_allow", "admin_disallow", "engine", "account_disconnect", "account_settings", "x"]


def submission(world: World, state: str, user_id: str, fields: Any = None) -> dict[str, Any]:
    return {
        "type": "dialog_submission",
        "callback_id": "",
        "state": state,
        "user_id": user_id,
        "channel_id": world.channel_id,
        "team_id": world.team_id,
        "submission": {} if fields is None else fields,
        "cancelled": False,
    }


def post(document: Any) -> RawRequest:
    return RawRequest("POST", DIALOG, body_chunks=(orjson.dumps(document),))


def test_dialog_submissions_with_forged_states_or_users_change_nothing(world: World) -> None:
    users = st.one_of(
        st.sampled_from([world.member_id, world.outsider_id]), hostile_text(30), st.none()
    )

    @HOSTILE
    @given(
        data=st.data(),
        action=st.sampled_from(ACTIONS),
        user=users,
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(data: st.DataObject, action: str, user: Any, content_type: bytes) -> None:
        # The state is the admin's: submitted by anyone else, forged or mangled, it must fail.
        target = "zoom" if action.startswith("account_") else ""
        dialog_state = world.dialog_state(action, target=target)
        state = data.draw(st.one_of(mangled_token(dialog_state), hostile_text()))
        fields = data.draw(st.one_of(hostile_json, st.just({"pmi": "new"})))
        document = data.draw(mutated_object(submission(world, state, user, fields)))
        body = data.draw(bodies(st.just(json_bytes(document))))
        headers = ((b"content-type", content_type),)
        reply = world.harness.exchange(RawRequest("POST", DIALOG, b"", headers, tuple(body)))
        assert reply.status != 200 or b'"error' in reply.body or reply.body == b"{}"

    check()


def test_dialog_bodies_that_are_not_submissions_are_refused(world: World) -> None:
    @HOSTILE
    @given(body=bodies(st.one_of(hostile_bytes(), hostile_json.map(json_bytes))))
    def check(body: list[bytes]) -> None:
        world.harness.exchange(RawRequest("POST", DIALOG, body_chunks=tuple(body)))

    check()


def test_a_dialog_state_submitted_by_another_user_is_refused(world: World) -> None:
    document = submission(world, world.dialog_state("admin_disallow"), world.member_id)
    reply = world.harness.exchange(post(document), refusal_expected=True)
    assert reply.status == 403 and "another user" in reply.message()


def test_a_dialog_state_cannot_be_replayed(world: World) -> None:
    state = world.dialog_state("admin_allow")
    first = world.harness.exchange(post(submission(world, state, world.admin_id)))
    again = world.harness.exchange(
        post(submission(world, state, world.admin_id)), refusal_expected=True
    )
    assert first.status == 200 and again.status == 403 and "already used" in again.message()


def test_a_forged_dialog_state_is_refused(world: World) -> None:
    body, _, _ = world.dialog_state().partition(".")
    reply = world.harness.exchange(
        post(submission(world, f"{body}.forged", world.admin_id)), refusal_expected=True
    )
    assert reply.status == 403 and "not valid" in reply.message()


def test_a_dialog_without_state_or_user_is_a_400(world: World) -> None:
    documents: list[Any] = [{"state": world.dialog_state()}, {"user_id": world.admin_id}, []]
    for document in documents:
        reply = world.harness.exchange(post(document), refusal_expected=True)
        assert reply.status == 400


def test_a_wrong_dialog_field_keeps_the_form_open_and_changes_nothing(world: World) -> None:
    state = world.dialog_state("account_settings", world.member_id, target="zoom")
    before = world.harness.snapshot()
    reply = world.harness.exchange(
        post(submission(world, state, world.member_id, {"pmi": "\x00" * 3}))
    )
    assert reply.status == 200 and reply.json() == {"errors": {"pmi": "Choose one of the options."}}
    assert world.harness.snapshot() == before, "a form with errors stores nothing"


def test_hostile_values_in_an_account_settings_form_are_answered_as_field_errors(
    world: World,
) -> None:
    @HOSTILE
    @given(fields=hostile_json)
    def check(fields: Any) -> None:
        # The user's own, valid state: the values alone are hostile.
        state = world.dialog_state("account_settings", world.member_id, target="zoom")
        document = json_bytes(submission(world, state, world.member_id, fields))
        reply = world.harness.exchange(RawRequest("POST", DIALOG, body_chunks=(document,)))
        chose = isinstance(fields, dict) and fields.get("pmi") in ("personal", "new", "ask")
        if reply.status in (400, 413):  # not JSON (NaN, a lone surrogate), or too large
            return
        assert reply.status == 200
        assert chose or reply.json() == {"errors": {"pmi": "Choose one of the options."}}

    check()
