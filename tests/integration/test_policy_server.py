"""The external policy server, driven with Infinity-shaped requests (reference/pexip.md §2)."""

from __future__ import annotations

import asyncio
import time

import pytest

from meetbridge.crypto import Signer
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from tests.conftest import RunningApp
from tests.integration.conftest import (
    PARTICIPANT_PROPERTIES,
    SERVICE_CONFIGURATION,
    alias,
    policy,
    post_events,
    tag,
)
from tests.support.infinity import InfinityNode, basic_auth
from tests.support.mattermost_standin import MattermostStandIn

FALLBACK = {"status": "fail", "action": "continue", "result": {}}
REJECT = {"status": "success", "action": "reject", "result": {}}

POLICY_PATHS = [
    SERVICE_CONFIGURATION,
    PARTICIPANT_PROPERTIES,
    "/api/pexip/policy/v1/participant/location",
    "/api/pexip/policy/v1/participant/avatar/alice",
    "/api/pexip/policy/v1/registrations",
    "/api/pexip/policy/v1/registrations/alice",
]


async def change(service: RunningApp, key: str, value: object) -> None:
    await service.components.admin.change_setting(key, value, "test")
    await service.components.state.refresh()


@pytest.mark.parametrize("path", POLICY_PATHS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic_auth("meetbridge", "wrong"),
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic !!!not-base64"},
    ],
)
async def test_every_policy_request_needs_the_credentials(
    service: RunningApp, node: InfinityNode, path: str, headers: dict[str, str]
) -> None:
    response = await service.http.get(path, params=node.service_configuration("x"), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "result" not in response.json()


async def test_credentials_with_other_spelling_are_accepted(
    service: RunningApp, node: InfinityNode
) -> None:
    token = service.auth["Authorization"].split(" ", 1)[1]
    response = await service.http.get(
        SERVICE_CONFIGURATION,
        params=node.service_configuration("other"),
        headers={"Authorization": f"basic  {token}"},
    )
    assert response.status_code == 404


async def test_allowed_channel_gets_a_conference(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Town Square")
    response = await policy(service, node.service_configuration(alias(channel)))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    result = body["result"]
    assert result["service_type"] == "conference"
    assert result["name"] == alias(channel)
    assert result["service_tag"] == tag(channel)
    assert channel in result["service_tag"]
    assert result["description"] == "Town Square"
    assert result["pin"].isdigit() and 4 <= len(result["pin"]) <= 20
    assert result["direct_media"] == "never"
    # Hosts and guests; pages get the guest PIN, the participant-properties answer the role.
    assert result["allow_guests"] is True
    assert result["guest_pin"].isdigit() and result["guest_pin"] != result["pin"]
    assert all(len(v) <= 250 for v in result.values() if isinstance(v, str))


async def test_a_direct_message_meeting_has_a_guest_pin_too(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    """Both people in a direct message are hosts, made so by the participant-properties answer
    (test_pexip_host.py): the PIN their pages carry is the guest PIN, as everywhere."""
    direct = mattermost.add_channel(kind="D")
    result = (await policy(service, node.service_configuration(alias(direct)))).json()["result"]
    assert result["allow_guests"] is True
    assert result["pin"].isdigit() and result["guest_pin"].isdigit()
    assert result["pin"] != result["guest_pin"]


@pytest.mark.parametrize(
    "dialled",
    ["sip:{alias}@pexip.example.com", "{ALIAS}", "h323:{alias}", "sips:{ALIAS}@example.org"],
)
async def test_alias_variants_reach_the_same_conference(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn, dialled: str
) -> None:
    channel = mattermost.add_channel("Sales")
    plain = (await policy(service, node.service_configuration(alias(channel)))).json()["result"]
    variant = dialled.format(alias=alias(channel), ALIAS=alias(channel).upper())
    response = await policy(service, node.service_configuration(variant, protocol="sip"))
    assert response.json()["result"] == plain


async def test_pin_is_stable_per_channel_and_differs_between_channels(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    one, two = mattermost.add_channel("One"), mattermost.add_channel("Two")
    first = (await policy(service, node.service_configuration(alias(one)))).json()["result"]["pin"]
    again = (await policy(service, node.service_configuration(alias(one)))).json()["result"]["pin"]
    other = (await policy(service, node.service_configuration(alias(two)))).json()["result"]["pin"]
    assert first == again
    assert first != other


async def test_pin_rotates_after_the_meeting_ends(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Standup")
    before = (await policy(service, node.service_configuration(alias(channel)))).json()["result"][
        "pin"
    ]
    await post_events(
        service,
        node.sink_started(),
        node.conference_started(alias(channel), tag(channel)),
        node.conference_ended(alias(channel), tag(channel)),
    )
    await service.components.applier.drain()
    after = (await policy(service, node.service_configuration(alias(channel)))).json()["result"][
        "pin"
    ]
    assert after != before


async def test_pins_are_encrypted_at_rest(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    from sqlalchemy import select

    from meetbridge.store.tables import channel_pins

    channel = mattermost.add_channel("Secret")
    pin = (await policy(service, node.service_configuration(alias(channel)))).json()["result"][
        "pin"
    ]
    async with service.components.core.database.read() as conn:
        sealed = await conn.scalar(select(channel_pins.c.pins_sealed))
    assert sealed is not None and pin.encode() not in sealed


@pytest.mark.parametrize(
    ("kind", "enabled", "expected"),
    [("D", True, "best_effort"), ("D", False, "never"), ("G", True, "never"), ("O", True, "never")],
)
async def test_direct_media_only_for_dms_when_enabled(
    service: RunningApp,
    node: InfinityNode,
    mattermost: MattermostStandIn,
    kind: str,
    enabled: bool,
    expected: str,
) -> None:
    await change(service, "direct_media_dms", enabled)
    channel = mattermost.add_channel("Conversation", kind=kind)
    result = (await policy(service, node.service_configuration(alias(channel)))).json()["result"]
    assert result["direct_media"] == expected
    if kind == "D":
        assert result["description"] == "Direct message"


async def test_disallowed_archived_and_unknown_channels_are_rejected(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    disallowed = mattermost.add_channel("Board")
    archived = mattermost.add_channel("Old", archived=True)
    unknown = "q" * 26
    await service.components.admin.set_channel_allowed(ChannelId(disallowed), False, "test")
    await service.components.state.refresh()
    for channel in (disallowed, archived, unknown):
        response = await policy(service, node.service_configuration(alias(channel)))
        assert response.status_code == 200
        assert response.json() == REJECT
    await service.components.admin.set_channel_allowed(ChannelId(disallowed), True, "test")
    await service.components.state.refresh()
    response = await policy(service, node.service_configuration(alias(disallowed)))
    assert response.json()["result"]["service_type"] == "conference"


@pytest.mark.parametrize(
    "local_alias", ["meet.alice", "sip:boardroom@example.com", "", "matt-town-square"]
)
async def test_aliases_that_are_not_ours_fall_back_to_infinity(
    service: RunningApp, node: InfinityNode, local_alias: str
) -> None:
    response = await policy(service, node.service_configuration(local_alias))
    assert response.status_code == 404
    assert response.json() == FALLBACK


async def test_other_policy_requests_fall_back(service: RunningApp, node: InfinityNode) -> None:
    for path in POLICY_PATHS[2:]:
        response = await policy(service, node.service_configuration("x"), path=path)
        assert (response.status_code, response.json()) == (404, FALLBACK)


async def test_doubled_slash_of_a_base_url_with_trailing_slash(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Slash")
    response = await policy(
        service,
        node.service_configuration(alias(channel)),
        path="/api/pexip//policy/v1/service/configuration",
    )
    assert response.json()["result"]["name"] == alias(channel)


async def test_theme_and_prefix_follow_settings(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Guests")
    await change(service, "ivr_theme_name", "Mattermost theme")
    await change(service, "alias_prefix", "mm-")
    assert (await policy(service, node.service_configuration(alias(channel)))).status_code == 404
    result = (await policy(service, node.service_configuration(alias(channel, "mm-")))).json()[
        "result"
    ]
    assert result["allow_guests"] is True
    assert result["guest_pin"] != result["pin"]
    assert result["ivr_theme_name"] == "Mattermost theme"
    assert result["name"] == alias(channel, "mm-")


async def test_channel_facts_are_cached(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Cached")
    for _ in range(5):
        await policy(service, node.service_configuration(alias(channel)))
    assert mattermost.requests.count(f"GET /api/v4/channels/{channel}") == 1
    # Mattermost going away does not stop meetings in channels seen recently.
    mattermost.down = True
    response = await policy(service, node.service_configuration(alias(channel)))
    assert response.json()["result"]["name"] == alias(channel)


async def test_unreachable_mattermost_never_holds_the_answer_for_long(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Slow")
    mattermost.delay = 3.0  # longer than the configured 0.5 s look-up budget
    started = time.monotonic()
    response = await policy(service, node.service_configuration(alias(channel)))
    elapsed = time.monotonic() - started
    assert response.status_code == 404 and response.json() == FALLBACK
    assert elapsed < 2.0
    mattermost.delay, mattermost.down = 0.0, True
    response = await policy(service, node.service_configuration(alias("z" * 26)))
    assert response.json() == FALLBACK


async def test_concurrent_requests_for_a_new_channel_agree_on_one_pin(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel = mattermost.add_channel("Rush")
    responses = await asyncio.gather(
        *(policy(service, node.service_configuration(alias(channel))) for _ in range(20))
    )
    assert len({r.json()["result"]["pin"] for r in responses}) == 1


# --- participant properties ------------------------------------------------------------------


def call_tag_for(service: RunningApp, channel: str, user: str) -> str:
    signer: Signer = service.components.core.call_tags
    return make_call_tag(signer, ChannelId(channel), UserId(user))


@pytest.mark.parametrize(
    ("style", "expected"),
    [("username", "dana"), ("nickname", "Dee"), ("full_name", "Dana Reyes")],
)
async def test_meetbridge_participants_get_the_configured_display_name(
    service: RunningApp,
    node: InfinityNode,
    mattermost: MattermostStandIn,
    style: str,
    expected: str,
) -> None:
    await change(service, "display_name", style)
    channel = mattermost.add_channel("Names")
    dana = mattermost.add_user("dana", nickname="Dee", first="Dana", last="Reyes")
    query = node.participant_properties(
        alias(channel),
        tag(channel),
        call_tag=call_tag_for(service, channel, dana),
        remote_display_name="dana",
    )
    response = await policy(service, query, path=PARTICIPANT_PROPERTIES)
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "action": "continue",
        "result": {"remote_display_name": expected, "preauthenticated_role": "chair"},
    }


async def test_display_name_falls_back_to_username(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    await change(service, "display_name", "nickname")
    channel = mattermost.add_channel("Names")
    plain = mattermost.add_user("plainuser")
    query = node.participant_properties(
        alias(channel), tag(channel), call_tag=call_tag_for(service, channel, plain)
    )
    response = await policy(service, query, path=PARTICIPANT_PROPERTIES)
    assert response.json()["result"]["remote_display_name"] == "plainuser"


async def test_participants_of_conferences_that_are_not_ours_pass_through_unchanged(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    dana = mattermost.add_user("dana")
    unchanged = {"status": "success", "action": "continue", "result": {}}
    for call_tag in ("", "sales-team", f"mbu.{dana}.0000000000000000000000"):
        query = node.participant_properties("meet.alice", "", call_tag=call_tag)
        response = await policy(service, query, path=PARTICIPANT_PROPERTIES)
        assert (response.status_code, response.json()) == (200, unchanged), call_tag


async def test_untagged_or_forged_participants_of_our_conferences_are_refused(
    service: RunningApp, node: InfinityNode, mattermost: MattermostStandIn
) -> None:
    channel, elsewhere = mattermost.add_channel("A"), mattermost.add_channel("B")
    dana = mattermost.add_user("dana")
    for call_tag in (
        "",
        "sales-team",
        f"mbu.{dana}.0000000000000000000000",
        call_tag_for(service, elsewhere, dana),
        "mbs.000000000000000000000000",
    ):
        query = node.participant_properties(alias(channel), tag(channel), call_tag=call_tag)
        response = await policy(service, query, path=PARTICIPANT_PROPERTIES)
        assert response.status_code == 200 and response.json()["action"] == "reject", call_tag
