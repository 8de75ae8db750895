"""The event sink: intake, validation, and exactly-once application (reference/pexip.md §3)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from meetbridge.store import meetings_repo
from meetbridge.store.tables import inbox, meetings
from tests.conftest import RunningApp
from tests.integration.conftest import EVENT_SINK, alias, post_events, tag
from tests.support.infinity import InfinityNode, basic_auth

CHANNEL = "k3f9q1x7ab8cd2ef4gh6ij8kl0"
OTHER = "x9f9q1x7ab8cd2ef4gh6ij8kl0"


async def inbox_count(service: RunningApp) -> int:
    async with service.components.core.database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(inbox)) or 0)


async def inbox_outcomes(service: RunningApp) -> list[str]:
    async with service.components.core.database.read() as conn:
        rows = await conn.execute(select(inbox.c.outcome).order_by(inbox.c.id))
        return [outcome for (outcome,) in rows]


async def current(service: RunningApp, channel: str = CHANNEL) -> Any:
    async with service.components.core.database.read() as conn:
        return await meetings_repo.current_for_channel(conn, channel)  # type: ignore[arg-type]


async def all_meetings(service: RunningApp) -> list[Any]:
    async with service.components.core.database.read() as conn:
        return list(await conn.execute(select(meetings).order_by(meetings.c.id)))


@pytest.mark.parametrize(
    "headers", [{}, basic_auth("meetbridge", "nope"), {"Authorization": "Basic"}]
)
async def test_unauthenticated_posts_are_refused_and_stored_nowhere(
    service: RunningApp, node: InfinityNode, headers: dict[str, str]
) -> None:
    response = await service.http.post(EVENT_SINK, json=node.sink_started(), headers=headers)
    assert response.status_code == 401
    assert await inbox_count(service) == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "'node'"),
        (b'{"node": "n", "seq": 1, "version": 2, "time": 1.0, "event": "x"}', "'data'"),
        (
            b'{"node": "n", "seq": "1", "version": 2, "time": 1.0, "event": "x", "data": {}}',
            "'seq'",
        ),
        (b'{"node": "n", "seq": -1, "version": 2, "time": 1.0, "event": "x", "data": {}}', "'seq'"),
        (
            b'{"node": "n", "seq": 1, "version": 7, "time": 1.0, "event": "x", "data": {}}',
            "'version'",
        ),
        (
            b'{"node": "n", "seq": 1, "version": 2, "time": "now", "event": "x", "data": {}}',
            "'time'",
        ),
        (b'{"node": "n", "seq": 1, "version": 2, "time": 1.0, "event": "", "data": {}}', "'event'"),
        (b'{"node": "", "seq": 1, "version": 2, "time": 1.0, "event": "x", "data": {}}', "'node'"),
        (b'{"node": "n", "seq": 1, "version": 2, "time": 1.0, "event": "x", "data": []}', "'data'"),
        (
            b'{"node": "n", "seq": 0, "version": 2, "time": 1.0, "event": "eventsink_bulk", "data": {}}',
            "list",
        ),
        (
            b'{"node": "n", "seq": 0, "version": 2, "time": 1.0, "event": "eventsink_bulk",'
            b' "data": [{"node": "n", "seq": 1, "version": 2, "time": 1.0, "event": "a", "data": {}},'
            b' {"seq": "two"}]}',
            "data[1]",
        ),
    ],
)
async def test_invalid_envelopes_get_400_and_change_nothing(
    service: RunningApp, body: bytes, fragment: str
) -> None:
    response = await service.http.post(
        EVENT_SINK, content=body, headers={**service.auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert await inbox_count(service) == 0


async def test_only_post_is_allowed(service: RunningApp) -> None:
    response = await service.http.get(EVENT_SINK, headers=service.auth)
    assert response.status_code == 405


async def test_a_meeting_from_start_to_end(service: RunningApp, node: InfinityNode) -> None:
    conf, t = alias(CHANNEL), tag(CHANNEL)
    await post_events(
        service,
        node.sink_started(),
        node.conference_started(conf, t),
        node.participant_connected(
            conf, t, uuid="api-1", display_name="Dana", has_media=False, protocol="API"
        ),
        node.participant_connected(conf, t, uuid="med-1", display_name="Dana", call_tag="x"),
        node.participant_connected(conf, t, uuid="med-2", display_name="Eli", role="guest"),
    )
    await service.components.applier.drain()
    meeting = await current(service)
    assert meeting is not None
    people = {p.display_name: p for p in meeting.participants()}
    assert set(people) == {"Dana", "Eli"}
    assert people["Eli"].role == "guest" and people["Dana"].call_tag == "x"
    assert meeting.peak_participants == 2
    await post_events(
        service,
        node.participant_disconnected(conf, t, "med-2"),
        node.participant_disconnected(conf, t, "med-1"),
        node.participant_disconnected(conf, t, "api-1"),
        node.conference_ended(conf, t),
    )
    await service.components.applier.drain()
    assert await current(service) is None
    (row,) = await all_meetings(service)
    assert row.ended_at is not None and row.ended_at > row.started_at
    assert row.peak_participants == 2
    async with service.components.core.database.read() as conn:
        ended = await meetings_repo.get(conn, row.id)
    assert ended is not None
    assert {a.display_name for a in ended.attendees.values()} == {"Dana", "Eli"}


async def test_duplicates_are_applied_once(service: RunningApp, node: InfinityNode) -> None:
    conf, t = alias(CHANNEL), tag(CHANNEL)
    start = node.sink_started()
    conference = node.conference_started(conf, t)
    joined = node.participant_connected(conf, t, uuid="p1")
    left = node.participant_disconnected(conf, t, "p1")
    rejoined_elsewhere = node.participant_connected(conf, t, uuid="p2", display_name="Eli")
    await post_events(
        service, start, start, conference, joined, joined, left, left, joined, rejoined_elsewhere
    )
    await service.components.applier.drain()
    meeting = await current(service)
    # p1's late retry of "connected" after its "disconnected" must not bring it back.
    assert [p.display_name for p in meeting.participants()] == ["Eli"]
    assert (await inbox_outcomes(service)).count("duplicate") == 4


async def test_sink_restart_is_understood(service: RunningApp, node: InfinityNode) -> None:
    conf, t = alias(CHANNEL), tag(CHANNEL)
    await post_events(
        service,
        node.sink_started(),
        node.conference_started(conf, t),
        node.participant_connected(conf, t, uuid="p1"),
    )
    # The publisher restarts: numbering begins again at 1; the old numbers are not duplicates.
    await post_events(
        service,
        node.sink_started(),
        node.participant_connected(conf, t, uuid="p2", display_name="Eli"),
        node.participant_disconnected(conf, t, "p1"),
    )
    await service.components.applier.drain()
    meeting = await current(service)
    assert [p.display_name for p in meeting.participants()] == ["Eli"]
    assert "duplicate" not in await inbox_outcomes(service)


async def test_bulk_envelopes(service: RunningApp, node: InfinityNode) -> None:
    conf, t = alias(CHANNEL), tag(CHANNEL)
    events = [
        node.sink_started(),
        node.conference_started(conf, t),
        node.participant_connected(conf, t, uuid="p1"),
        node.participant_connected(conf, t, uuid="p2", display_name="Eli"),
    ]
    await post_events(service, node.bulk(events[:2]), node.bulk(events[2:]), events[3])
    await service.components.applier.drain()
    meeting = await current(service)
    assert {p.display_name for p in meeting.participants()} == {"Dana Reyes", "Eli"}
    assert await inbox_outcomes(service) == ["applied"] * 4 + ["duplicate"]


async def test_several_nodes_report_one_meeting(service: RunningApp) -> None:
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12", location="Bergen")
    conf, t = alias(CHANNEL), tag(CHANNEL)
    await post_events(service, oslo.sink_started(), bergen.sink_started())
    await post_events(
        service,
        oslo.conference_started(conf, t),
        bergen.conference_started(conf, t),
        oslo.participant_connected(conf, t, uuid="o1", display_name="Dana"),
        bergen.participant_connected(conf, t, uuid="b1", display_name="Eli"),
        oslo.participant_disconnected(conf, t, "o1"),
        oslo.conference_ended(conf, t),
    )
    await service.components.applier.drain()
    meeting = await current(service)
    assert meeting is not None, "a meeting is over only when every node has ended it"
    assert [p.display_name for p in meeting.participants()] == ["Eli"]
    await post_events(
        service, bergen.participant_disconnected(conf, t, "b1"), bergen.conference_ended(conf, t)
    )
    await service.components.applier.drain()
    assert await current(service) is None
    rows = await all_meetings(service)
    assert len(rows) == 1 and rows[0].ended_at is not None


async def test_meetings_in_two_channels_are_independent(
    service: RunningApp, node: InfinityNode
) -> None:
    await post_events(
        service,
        node.sink_started(),
        node.conference_started(alias(CHANNEL), tag(CHANNEL)),
        node.conference_started(alias(OTHER), tag(OTHER)),
        node.conference_ended(alias(CHANNEL), tag(CHANNEL)),
    )
    await service.components.applier.drain()
    assert await current(service, CHANNEL) is None
    assert await current(service, OTHER) is not None


async def test_unused_and_foreign_events_are_stored_counted_and_ignored(
    service: RunningApp, node: InfinityNode
) -> None:
    await post_events(
        service,
        node.sink_started(),
        node.media_stream_window("p1"),
        node.envelope("participant_media_streams_destroyed", {"uuid": "p1", "media_streams": []}),
        node.conference_started("boardroom", "finance"),
    )
    await service.components.applier.drain()
    assert await inbox_outcomes(service) == ["applied", "unused", "unused", "not_ours"]
    assert await all_meetings(service) == []
    metrics = (await service.http.get("/metrics")).text
    assert (
        'meetbridge_events_received_total{event="participant_media_stream_window",source="pexip"} 1.0'
        in metrics
    )
    assert 'meetbridge_events_applied_total{outcome="unused"} 2.0' in metrics


async def test_concurrent_appliers_apply_each_event_once(service: RunningApp) -> None:
    nodes = [InfinityNode(f"10.0.0.{i}") for i in range(1, 5)]
    conf, t = alias(CHANNEL), tag(CHANNEL)

    async def node_stream(node: InfinityNode) -> None:
        await post_events(service, node.sink_started(), node.conference_started(conf, t))
        for i in range(25):
            await post_events(
                service,
                node.participant_connected(
                    conf, t, uuid=f"{node.ip}-{i}", display_name=f"{node.ip}-{i}"
                ),
            )

    await asyncio.gather(*(node_stream(n) for n in nodes))
    applier = service.components.applier
    await asyncio.gather(applier.drain(), applier.drain(), applier.drain())
    meeting = await current(service)
    assert len(meeting.participants()) == 100
    outcomes = await inbox_outcomes(service)
    assert outcomes.count("applied") == len(outcomes) == 4 * 27


async def test_metrics_and_health(service: RunningApp, node: InfinityNode) -> None:
    await post_events(service, node.sink_started())
    await service.http.post(EVENT_SINK, content=b"{", headers=service.auth)
    await service.http.get(
        "/api/pexip/policy/v1/service/configuration",
        params={"local_alias": "x"},
        headers=service.auth,
    )
    health = await service.http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = (await service.http.get("/metrics")).text
    for name in (
        "meetbridge_policy_answers_total",
        "meetbridge_policy_latency_seconds_bucket",
        "meetbridge_inbox_depth",
        "meetbridge_events_applied_total",
        "meetbridge_events_rejected_total",
    ):
        assert name in metrics
    assert 'meetbridge_events_rejected_total{reason="invalid",source="pexip"} 1.0' in metrics
    assert (
        'meetbridge_policy_answers_total{outcome="not_ours",request="service_configuration"} 1.0'
        in metrics
    )


def test_stored_body_is_the_envelope() -> None:
    # Intake stores single envelopes verbatim; bulk items are stored one by one.
    from meetbridge.web.pexip import _records

    single = orjson.dumps(
        {"node": "n", "seq": 1, "version": 2, "time": 1.5, "event": "x", "data": {"a": 1}}
    )
    (record,) = _records(single, 10.0)
    assert record.body == single.decode() and (record.node, record.seq, record.event) == (
        "n",
        1,
        "x",
    )
