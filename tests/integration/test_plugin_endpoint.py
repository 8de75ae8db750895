"""meetbridge's side of the companion plugin channel: only signed requests are believed, every
malformed one is a 4xx that changes nothing, and a signed one is answered like ``/meet``."""

from __future__ import annotations

import time

import orjson
import pytest
from sqlalchemy import text

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.plugin_signature import signed_headers
from meetbridge.domain.settings import SettingError, checked_secret
from meetbridge.store import chat_repo
from tests.conftest import RunningApp
from tests.integration.conftest import alias, post_events, tag
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn

SECRET = "plugin-secret-0123456789abcdefghijklmnop"
PATH = "/api/plugin/meeting"
MEETINGS = "/api/plugin/meetings"
RING = "/api/plugin/ring"


async def set_up(service: RunningApp) -> None:
    await service.components.admin.set_secret("plugin_shared_secret", SECRET, "test")
    await service.components.state.refresh()


def signed(
    body: bytes, user_id: str, secret: str = SECRET, at: float | None = None
) -> dict[str, str]:
    now = time.time() if at is None else at
    return {**signed_headers(secret, "POST", PATH, user_id, body, now)}


async def intents(service: RunningApp) -> int:
    async with service.components.core.database.read() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM join_intents")) or 0)


async def test_a_signed_request_gets_the_same_personal_join_link_as_meet(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    await set_up(service)
    alice, channel = mattermost.add_user("alice"), mattermost.add_channel("Planning", kind="P")
    body = orjson.dumps({"channel_id": channel, "topic": "Review"})
    answer = await service.http.post(PATH, content=body, headers=signed(body, alice))
    assert answer.status_code == 200, answer.text
    assert answer.json()["join_link"].startswith("https://meetbridge.example.com/join/")
    opened = service.components.join.link_user(answer.json()["join_link"].rsplit("/", 1)[1])
    assert opened == alice


async def test_the_same_membership_rule_as_meet_refuses_a_non_member(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    await set_up(service)
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.channels[channel]["members"] = [alice]
    body = orjson.dumps({"channel_id": channel})
    refused = await service.http.post(PATH, content=body, headers=signed(body, bob))
    assert refused.status_code == 403
    assert refused.json()["error"] == "Only members of this channel can join its meeting."


async def test_without_a_secret_set_in_meetbridge_the_channel_is_closed(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    alice, channel = mattermost.add_user("alice"), mattermost.add_channel("Planning", kind="P")
    body = orjson.dumps({"channel_id": channel})
    answer = await service.http.post(PATH, content=body, headers=signed(body, alice))
    assert answer.status_code == 401
    assert "not set up" in answer.json()["error"]


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "wrong secret",
        "stale",
        "user swapped",
        "body swapped",
        "non-ASCII signature",
        "garbage timestamp",
        "latin-1 header bytes",
    ],
)
async def test_hostile_requests_are_refused_with_401_and_change_nothing(
    service: RunningApp, mattermost: MattermostStandIn, case: str
) -> None:
    await set_up(service)
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    body = orjson.dumps({"channel_id": channel})
    headers: dict[str, str | bytes] = {**signed(body, alice)}
    sent = body
    if case == "unsigned":
        headers = {"Mattermost-User-Id": alice}
    elif case == "wrong secret":
        headers = {**signed(body, alice, secret=SECRET + "x")}
    elif case == "stale":
        headers = {**signed(body, alice, at=time.time() - 3600)}
    elif case == "user swapped":
        headers["Mattermost-User-Id"] = bob
    elif case == "body swapped":
        sent = orjson.dumps({"channel_id": mattermost.add_channel("Other", kind="O")})
    elif case == "non-ASCII signature":
        headers["X-Meetbridge-Signature"] = "é".encode() * 32  # 64 latin-1 characters
    elif case == "garbage timestamp":
        headers["X-Meetbridge-Timestamp"] = "not-a-time"
    elif case == "latin-1 header bytes":
        headers["X-Meetbridge-Signature"] = b"\xff\xfe" * 32
    before = await intents(service)
    raw = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in headers.items()}
    answer = await service.http.post(PATH, content=sent, headers=raw)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]
    assert await intents(service) == before


@pytest.mark.parametrize(
    ("body", "user"),
    [
        (b"not json", "alice"),
        (b"[]", "alice"),
        (b'{"channel_id": "short"}', "alice"),
        (b'{"channel_id": 7}', "alice"),
        (b'{"channel_id": "CHANNEL", "topic": 5}', "alice"),
        (b'{"channel_id": "CHANNEL"}', "not-a-user-id"),
    ],
)
async def test_malformed_signed_requests_are_400_not_500(
    service: RunningApp, mattermost: MattermostStandIn, body: bytes, user: str
) -> None:
    await set_up(service)
    alice, channel = mattermost.add_user("alice"), mattermost.add_channel("Planning", kind="P")
    body = body.replace(b"CHANNEL", channel.encode())
    user_id = alice if user == "alice" else user
    answer = await service.http.post(PATH, content=body, headers=signed(body, user_id))
    assert answer.status_code == 400, answer.text


async def test_a_too_long_topic_is_refused(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    await set_up(service)
    alice, channel = mattermost.add_user("alice"), mattermost.add_channel("Planning", kind="P")
    body = orjson.dumps({"channel_id": channel, "topic": "x" * 1001})
    answer = await service.http.post(PATH, content=body, headers=signed(body, alice))
    assert answer.status_code == 400


def test_a_short_plugin_secret_is_refused_when_set() -> None:
    with pytest.raises(SettingError, match="at least 32 characters"):
        checked_secret("plugin_shared_secret", "too-short")
    assert checked_secret("plugin_shared_secret", f"  {SECRET}  ") == SECRET


async def test_meetings_in_progress_are_listed_only_in_the_users_own_channels(
    service: RunningApp, mattermost: MattermostStandIn, node: InfinityNode
) -> None:
    await set_up(service)
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    shared, private = mattermost.add_channel("Planning"), mattermost.add_channel("Board", kind="P")
    quiet = mattermost.add_channel("Quiet")
    mattermost.channels[private]["members"] = [bob]
    for channel in (shared, private, quiet):
        mattermost.channels[channel].setdefault("members", [alice, bob])
    events = [node.sink_started()]
    for channel in (shared, private):
        events += [
            node.conference_started(alias(channel), tag(channel)),
            node.participant_connected(alias(channel), tag(channel), uuid=f"p-{channel}"),
        ]
    await post_events(service, *events)
    await service.components.applier.drain()

    async def listed(user: str) -> list[str]:
        body = b"{}"
        headers = {**signed_headers(SECRET, "POST", MEETINGS, user, body, time.time())}
        answer = await service.http.post(MEETINGS, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json()["bot_user_id"], str)  # "" while Mattermost cannot say
        return sorted(m["channel_id"] for m in answer.json()["meetings"])

    assert await listed(alice) == [shared]  # not the private channel she is not in
    assert await listed(bob) == sorted([shared, private])
    unsigned = await service.http.post(MEETINGS, content=b"{}")
    assert unsigned.status_code == 401


async def test_only_the_callee_can_ignore_a_ringing_call(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    await set_up(service)
    alice, bob, carol = (mattermost.add_user(name) for name in ("alice", "bob", "carol"))
    channel = mattermost.add_channel("", kind="D")
    now = time.time()
    async with service.components.core.database.transaction() as conn:
        await chat_repo.start_ring(
            conn, 1, ChannelId(channel), UserId(alice), UserId(bob), now + 30, now
        )
        (ring,) = await chat_repo.rings_of(conn, 1)

    async def answer(user: str, body: object) -> int:
        raw = orjson.dumps(body)
        headers = {**signed_headers(SECRET, "POST", RING, user, raw, time.time())}
        return (await service.http.post(RING, content=raw, headers=headers)).status_code

    async def state() -> str:
        async with service.components.core.database.read() as conn:
            found = await chat_repo.get_ring(conn, ring.id)
        assert found is not None
        return found.state

    async def ringing(user: str) -> list[dict[str, object]]:
        headers = {**signed_headers(SECRET, "POST", MEETINGS, user, b"{}", time.time())}
        listed = await service.http.post(MEETINGS, content=b"{}", headers=headers)
        calls: list[dict[str, object]] = listed.json()["calls"]
        return calls

    assert await ringing(bob) == [
        {
            "ring_id": ring.id,
            "channel_id": channel,
            "caller": "alice",
            "conversation": "direct message",
            "state": "ringing",
        }
    ]
    assert await ringing(carol) == []
    assert await answer(carol, {"ring_id": ring.id, "answer": "ignore"}) == 404  # not hers
    for malformed in ({"ring_id": True, "answer": "ignore"}, {"ring_id": ring.id}, [1]):
        assert await answer(bob, malformed) == 400
    assert await state() == chat_repo.RINGING
    assert await answer(bob, {"ring_id": ring.id, "answer": "ignore"}) == 204
    assert await state() == chat_repo.IGNORED
    assert await ringing(bob) == []
