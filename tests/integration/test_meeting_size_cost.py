"""The cost of applying an event does not grow with the meeting's size or its history.

The same twenty events (joins, leaves, mute changes) are applied to a meeting of 10 people and
to one of 1,000 people who have been joined and left by 1,000 more. What the applier sends the
database for them (statements, and the bytes of their parameters) is counted: with state
written as whole documents, the big meeting's batch would carry its 1,000 legs and 2,000
attendees; written as rows that changed, both batches carry the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from meetbridge.config import ServiceConfig
from meetbridge.store import meetings_repo
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.integration.conftest import EVENT_SINK, alias, tag
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn

SMALL, LARGE = "s3f9q1x7ab8cd2ef4gh6ij8kl0", "l3f9q1x7ab8cd2ef4gh6ij8kl0"


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> AsyncIterator[RunningApp]:
    """Without background workers: only the applier, driven by the test, talks to the database."""
    app = create_app(
        config, mattermost_transport=mattermost.transport(), auto_migrate=True, background=False
    )
    async with running(app) as running_app:
        yield running_app


@dataclass
class Sent:
    statements: int = 0
    parameter_bytes: int = 0


@contextmanager
def counting(service: RunningApp) -> Iterator[Sent]:
    """What the process sends to the database while the block runs."""
    sent = Sent()
    engine = service.components.core.database.engine.sync_engine

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:

        sent.statements += 1
        sent.parameter_bytes += len(repr(parameters))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def post_bulk(service: RunningApp, node: InfinityNode, envelopes: list[Any]) -> None:
    for start in range(0, len(envelopes), 500):
        body = node.bulk(envelopes[start : start + 500])
        response = await service.http.post(EVENT_SINK, json=body, headers=service.auth)
        assert response.status_code == 200, response.text


async def fill(
    service: RunningApp, node: InfinityNode, channel: str, present: int, left: int
) -> None:
    conference, service_tag = alias(channel), tag(channel)
    started = node.conference_started(conference, service_tag)  # numbered first: sent first
    joins = [
        node.participant_connected(
            conference, service_tag, uuid=f"{channel}-{k}", display_name=f"P{k}"
        )
        for k in range(present + left)
    ]
    leaves = [
        node.participant_disconnected(conference, service_tag, f"{channel}-{k}")
        for k in range(present, present + left)
    ]
    await post_bulk(service, node, [started, *joins, *leaves])
    await service.components.applier.drain()


def the_same_twenty_events(node: InfinityNode, channel: str) -> list[Any]:
    """10 joins, 5 leaves of people already there, 5 mute changes."""
    conference, service_tag = alias(channel), tag(channel)
    events = []
    for k in range(5):
        events.append(
            node.participant_connected(
                conference, service_tag, uuid=f"{channel}-new{k}", display_name=f"N{k}"
            )
        )
        events.append(node.participant_disconnected(conference, service_tag, f"{channel}-{k}"))
        events.append(
            node.participant_connected(
                conference, service_tag, uuid=f"{channel}-new{k}b", display_name=f"M{k}"
            )
        )
        events.append(
            node.participant_updated(conference, service_tag, f"{channel}-{5 + k}", is_muted=True)
        )
    return events


async def applying_cost(service: RunningApp, node: InfinityNode, channel: str) -> Sent:
    await post_bulk(service, node, the_same_twenty_events(node, channel))
    with counting(service) as sent:
        result = await service.components.applier.apply_batch()
    assert result.applied == 20
    changes = Counter(type(e).__name__ for _, e in result.events)
    assert changes == {"ParticipantJoined": 10, "ParticipantLeft": 5, "ParticipantChanged": 5}
    return sent


async def test_an_event_costs_the_same_in_a_meeting_of_1000_with_a_long_history(
    service: RunningApp,
) -> None:
    small_node, large_node = InfinityNode("10.30.0.1"), InfinityNode("10.30.0.2")
    await fill(service, small_node, SMALL, present=10, left=0)
    await fill(service, large_node, LARGE, present=1000, left=1000)

    small = await applying_cost(service, small_node, SMALL)
    large = await applying_cost(service, large_node, LARGE)

    assert large.statements == small.statements
    # Names and uuids differ in length by a few characters between the two meetings.
    assert large.parameter_bytes < small.parameter_bytes * 1.2, (small, large)
    async with service.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(conn, LARGE)  # type: ignore[arg-type]
    assert meeting is not None
    assert meeting.present_count() == 1000 + 10 - 5
    assert len(meeting.attendees) == 2000 + 10
    assert meeting.peak_participants == 2000  # everyone who came, before 1,000 left
