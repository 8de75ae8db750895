"""One node's bad POST is refused on its own: it gets a 400, and the group commit it would have
shared with other nodes' events still stores theirs (item 1 of issue 9). On SQLite and
PostgreSQL, whose refusals differ (PostgreSQL stores no NUL in text, neither stores 2^63)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from meetbridge.store.inbox import InboxRecord, InboxRejectedError, InboxWriter
from meetbridge.store.tables import inbox
from tests.conftest import RunningApp
from tests.integration.conftest import EVENT_SINK, alias, tag
from tests.support.infinity import InfinityNode

CHANNEL = "k3f9q1x7ab8cd2ef4gh6ij8kl0"


def good_envelope(node: InfinityNode) -> dict[str, Any]:
    return node.conference_started(alias(CHANNEL), tag(CHANNEL))


def poisoned_envelopes() -> list[tuple[str, dict[str, Any]]]:
    base = InfinityNode("10.66.0.1").sink_started()
    return [
        ("seq of 2^63", {**base, "seq": 2**63}),
        ("seq of 2^64 - 1", {**base, "seq": 2**64 - 1}),
        ("negative seq", {**base, "seq": -1}),
        ("NUL in node", {**base, "node": "10.66.0.1\x00"}),
        ("NUL in event", {**base, "event": "eventsink_started\x00"}),
        ("NUL in a data string", {**base, "data": {"name": "a\x00b"}}),
        ("NUL in a data key", {**base, "data": {"a\x00": 1}}),
        ("NUL deep inside", {**base, "data": {"a": [{"b": ["\x00"]}]}}),
        ("absurdly long string", {**base, "data": {"display_name": "x" * 100_000}}),
        ("absurdly long node", {**base, "node": "n" * 300}),
        ("time in the year 30000", {**base, "time": 9.0e11}),
        ("seq as a string", {**base, "seq": "1"}),
        ("seq as a float", {**base, "seq": 1.5}),
        ("node as a list", {**base, "node": ["n"]}),
        (
            "bulk with one bad item",
            {**base, "event": "eventsink_bulk", "data": [{**base, "seq": 2**63}]},
        ),
    ]


async def stored_nodes(service: RunningApp) -> list[str]:
    async with service.components.core.database.read() as conn:
        return [n for (n,) in await conn.execute(select(inbox.c.node).order_by(inbox.c.id))]


async def test_a_poisoned_post_in_the_same_window_as_good_ones_fails_alone(
    service: RunningApp,
) -> None:
    nodes = [InfinityNode(f"10.20.0.{i}") for i in range(1, 9)]
    good = [good_envelope(n) for n in nodes]
    poisoned = poisoned_envelopes()

    async def post(envelope: dict[str, Any]) -> Any:
        return await service.http.post(
            EVENT_SINK,
            content=orjson.dumps(envelope),
            headers={**service.auth, "Content-Type": "application/json"},
        )

    # Interleaved and concurrent: all of them reach the inbox writer in one commit window.
    bodies = [x for pair in zip(good, [p for _, p in poisoned], strict=False) for x in pair]
    bodies += [p for _, p in poisoned[len(good) :]]
    answers = await asyncio.gather(*(post(body) for body in bodies))
    by_body = {orjson.dumps(b): a for b, a in zip(bodies, answers, strict=True)}
    for envelope in good:
        assert by_body[orjson.dumps(envelope)].status_code == 200
    for reason, envelope in poisoned:
        answer = by_body[orjson.dumps(envelope)]
        assert answer.status_code == 400, (reason, answer.text)
        assert "not a valid event-sink envelope" in answer.json()["error"], reason
    assert sorted(await stored_nodes(service)) == sorted(n.ip for n in nodes)


@pytest.mark.parametrize(
    ("reason", "poison"),
    [
        ("seq of 2^63", {"seq": 2**63}),
        ("NUL in node", {"node": "10.66.0.1\x00"}),
        ("NUL in the body", {"body": '{"a": "\x00"}'}),
    ],
)
async def test_inbox_writer_isolates_a_record_the_database_refuses(
    service: RunningApp, reason: str, poison: dict[str, Any]
) -> None:
    """Defence in depth: whatever intake lets through, the database refusing one request's
    records fails that request alone, never the others committed with it."""
    database = service.components.core.database
    writer = InboxWriter(database)

    def record(node: str, seq: int = 1, body: str = "{}") -> InboxRecord:
        return InboxRecord("pexip", node, seq, "eventsink_started", 1.0, body)

    bad = replace(record("10.66.0.1"), **poison)
    refusable = database.is_sqlite is False or reason == "seq of 2^63"
    # Queue everything before the writer runs: one commit window, shared.
    requests = [[record(f"10.20.0.{i}")] for i in range(1, 6)]
    requests.insert(2, [record("10.20.0.9"), bad])
    tasks = [asyncio.ensure_future(writer.append(r)) for r in requests]
    await asyncio.sleep(0)
    assert len(writer._waiting) == len(requests)
    await writer.start()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await writer.stop()
    poisoned = results.pop(2)
    assert all(result is None for result in results), results
    if refusable:
        assert isinstance(poisoned, InboxRejectedError), poisoned
        expected = [f"10.20.0.{i}" for i in range(1, 6)]
    else:  # SQLite stores NUL characters: nothing to refuse
        assert poisoned is None
        expected = [f"10.20.0.{i}" for i in range(1, 6)] + ["10.20.0.9", bad.node]
    assert sorted(await stored_nodes(service)) == sorted(expected)
