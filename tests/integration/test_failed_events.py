"""One bad event never stops the others (item 1 of issue 9).

An event the applier cannot read, fold or write is set aside as failed with its error, counted
in /metrics, listed and retried with ``meetbridge events``; the other events, of its node and
of every other node, are applied in order. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import exc as sql_errors
from sqlalchemy import insert, select

from meetbridge.cli import main
from meetbridge.config import ServiceConfig
from meetbridge.domain import meetings as meetings_domain
from meetbridge.domain.meetings import EngineReport, LegConnected, Meeting
from meetbridge.services import event_applier
from meetbridge.store import inbox as inbox_store
from meetbridge.store import meetings_repo
from meetbridge.store.tables import inbox
from tests.conftest import RunningApp
from tests.integration.conftest import alias, post_events, tag
from tests.support.infinity import InfinityNode

CHANNEL = "k3f9q1x7ab8cd2ef4gh6ij8kl0"
OTHER = "x9f9q1x7ab8cd2ef4gh6ij8kl0"
MEMBER = "u3f9q1x7ab8cd2ef4gh6ij8kl0"


async def people(service: RunningApp, channel: str = CHANNEL) -> list[str]:
    async with service.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(conn, channel)  # type: ignore[arg-type]
    return [] if meeting is None else sorted(p.display_name for p in meeting.participants())


async def inbox_rows(service: RunningApp) -> list[Any]:
    async with service.components.core.database.read() as conn:
        rows = await conn.execute(
            select(inbox.c.id, inbox.c.outcome, inbox.c.error, inbox.c.attempts).order_by(
                inbox.c.id
            )
        )
        return list(rows)


async def store_raw(service: RunningApp, node: str, seq: int, event: str, body: str) -> None:
    """An event as an older meetbridge (or a bug) might have stored it, bypassing intake."""
    async with service.components.core.database.transaction() as conn:
        await conn.execute(
            insert(inbox).values(
                source="pexip", node=node, seq=seq, event=event, received_at=1.0, body=body
            )
        )


def events_before(oslo: InfinityNode, bergen: InfinityNode) -> list[Any]:
    """Two nodes, a meeting in each of two channels, Ada in the first."""
    return [
        oslo.sink_started(),
        bergen.sink_started(),
        oslo.conference_started(alias(CHANNEL), tag(CHANNEL)),
        bergen.conference_started(alias(OTHER), tag(OTHER)),
        oslo.participant_connected(alias(CHANNEL), tag(CHANNEL), uuid="a", display_name="Ada"),
    ]


def events_after(oslo: InfinityNode, bergen: InfinityNode) -> list[Any]:
    """Later events of the same node (Cy) and of the other one (Di)."""
    return [
        oslo.participant_connected(alias(CHANNEL), tag(CHANNEL), uuid="c", display_name="Cy"),
        bergen.participant_connected(alias(OTHER), tag(OTHER), uuid="d", display_name="Di"),
    ]


async def test_non_ascii_call_tag_does_not_stop_event_processing(service: RunningApp) -> None:
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12")
    before = events_before(oslo, bergen)
    hostile = oslo.participant_connected(
        alias(CHANNEL),
        tag(CHANNEL),
        uuid="b",
        display_name="Bo",
        call_tag=f"mbu.{MEMBER}.{'é' * 24}",
    )
    await post_events(service, *before, hostile, *events_after(oslo, bergen))
    await service.components.applier.drain()
    assert await people(service) == ["Ada", "Bo", "Cy"]
    assert await people(service, OTHER) == ["Di"]
    async with service.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(conn, CHANNEL)  # type: ignore[arg-type]
    assert meeting is not None
    assert all(p.user_id is None for p in meeting.participants()), "a forged tag is nobody"


async def test_an_event_that_cannot_be_read_is_set_aside_and_the_rest_applied(
    service: RunningApp,
) -> None:
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12")
    await post_events(service, *events_before(oslo, bergen))
    oslo.seq += 1  # the stored event took a number
    await store_raw(service, oslo.ip, oslo.seq, "participant_connected", '{"node": "10.20.0.11"')
    await post_events(service, *events_after(oslo, bergen))
    await service.components.applier.drain()
    assert await people(service) == ["Ada", "Cy"]
    assert await people(service, OTHER) == ["Di"]
    rows = await inbox_rows(service)
    (failed,) = [r for r in rows if r.outcome == "failed"]
    assert failed.error.startswith("JSONDecodeError") and failed.attempts == 1
    assert [r.outcome for r in rows if r.id != failed.id] == ["applied"] * 7
    metrics = (await service.http.get("/metrics")).text
    assert 'meetbridge_events_applied_total{outcome="failed"} 1.0' in metrics
    assert "meetbridge_inbox_failed 1.0" in metrics
    async with service.components.core.database.read() as conn:
        assert await inbox_store.depth(conn) == 0, "a failed event is not pending"
        assert await inbox_store.count_failed(conn) == 1


async def test_an_event_whose_fold_fails_is_set_aside_and_later_events_of_its_node_applied(
    service: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = meetings_domain.apply_report

    def faulty(meeting: Meeting | None, report: EngineReport) -> Any:
        if isinstance(report, LegConnected) and report.leg.uuid == "boom":
            if meeting is not None:
                meeting.legs.clear()  # a fold that fails halfway leaves nothing behind
            raise RuntimeError("a bug meets an event it did not expect")
        return real(meeting, report)

    monkeypatch.setattr(event_applier, "apply_report", faulty)
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12")
    before = events_before(oslo, bergen)
    boom = oslo.participant_connected(alias(CHANNEL), tag(CHANNEL), uuid="boom", display_name="Bo")
    await post_events(service, *before, boom, *events_after(oslo, bergen))
    await service.components.applier.drain()
    assert await people(service) == ["Ada", "Cy"], "events after the failed one, same node"
    assert await people(service, OTHER) == ["Di"]
    (failed,) = [r for r in await inbox_rows(service) if r.outcome == "failed"]
    assert "RuntimeError: a bug meets an event" in failed.error

    # Fixed (here: the fault removed), an admin applies it again.
    monkeypatch.setattr(event_applier, "apply_report", real)
    database, clock = service.components.core.database, service.components.core.clock
    assert [e.id for e in await event_applier.failed_events(database)] == [failed.id]
    assert await event_applier.retry_failed(database, [failed.id], "test", clock) == 1
    await service.components.applier.drain()
    assert await people(service) == ["Ada", "Bo", "Cy"]
    assert await event_applier.failed_events(database) == []
    (retried,) = [r for r in await inbox_rows(service) if r.id == failed.id]
    assert (retried.outcome, retried.attempts) == ("applied", 1)


async def test_an_event_whose_write_fails_is_set_aside_and_the_rest_applied(
    service: RunningApp,
) -> None:
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12")
    await post_events(service, *events_before(oslo, bergen))
    # Its body claims a seq no BIGINT holds: saving its node's cursor fails, on both databases.
    oslo.seq += 1
    poisoned = {**oslo.participant_connected(alias(CHANNEL), tag(CHANNEL), uuid="x"), "seq": 2**63}
    await store_raw(
        service, oslo.ip, oslo.seq, "participant_connected", orjson.dumps(poisoned).decode()
    )
    cy, di = events_after(oslo, bergen)
    await post_events(service, di)
    await service.components.applier.drain()
    assert await people(service) == ["Ada"]
    assert await people(service, OTHER) == ["Di"]
    outcomes = [r.outcome for r in await inbox_rows(service)]
    assert outcomes.count("failed") == 1 and outcomes.count("applied") == 6
    await post_events(service, cy)  # the node goes on; its cursor did not move
    await service.components.applier.drain()
    assert await people(service) == ["Ada", "Cy"]


async def test_a_database_outage_is_not_blamed_on_an_event(
    service: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*args: Any) -> None:
        raise sql_errors.OperationalError("INSERT", {}, ConnectionRefusedError("down"))

    node = InfinityNode("10.20.0.11")
    monkeypatch.setattr(meetings_repo, "save_all", unreachable)  # before the applier can run
    await post_events(
        service, node.sink_started(), node.conference_started(alias(CHANNEL), tag(CHANNEL))
    )
    with pytest.raises(sql_errors.OperationalError):
        await service.components.applier.apply_batch()
    assert all(r.outcome is None for r in await inbox_rows(service)), "still pending, not failed"
    monkeypatch.undo()
    await service.components.applier.drain()
    assert [r.outcome for r in await inbox_rows(service)] == ["applied", "applied"]


async def test_failed_events_are_listed_and_retried_from_the_command_line(
    service: RunningApp,
    config: ServiceConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = InfinityNode("10.20.0.11")
    await post_events(service, node.sink_started())
    await store_raw(service, node.ip, 7, "conference_started", "not json")
    await service.components.applier.drain()
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", config.database_url)
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    assert config.secret_key is not None
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEY", config.secret_key.get_secret_value())
    runner = CliRunner()

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, main, list(args))

    listed = await run("events", "failed", "--json")
    assert listed.exit_code == 0, listed.output
    (entry,) = orjson.loads(listed.output)
    assert (entry["node"], entry["seq"], entry["event"]) == (node.ip, 7, "conference_started")
    assert entry["error"].startswith("JSONDecodeError") and entry["body"] == "not json"
    human = await run("events", "failed")
    assert f"#{entry['id']}" in human.output and "JSONDecodeError" in human.output
    assert (await run("events", "retry")).exit_code != 0, "ids or --all"
    assert (await run("events", "retry", "999999")).exit_code != 0
    retried = await run("events", "retry", "--all")
    assert retried.exit_code == 0 and "1 event(s) queued again" in retried.output
    await service.components.applier.drain()  # the body is still not JSON: it fails again
    (again,) = orjson.loads((await run("events", "failed", "--json")).output)
    assert again["attempts"] == 2


async def test_a_retried_event_whose_meeting_has_ended_is_stale_and_starts_nothing(
    service: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = meetings_domain.apply_report

    def faulty(meeting: Meeting | None, report: EngineReport) -> Any:
        if isinstance(report, LegConnected) and report.leg.uuid == "late":
            raise RuntimeError("not today")
        return real(meeting, report)

    monkeypatch.setattr(event_applier, "apply_report", faulty)
    oslo, bergen = InfinityNode("10.20.0.11"), InfinityNode("10.30.0.12")
    before = events_before(oslo, bergen)
    late = oslo.participant_connected(alias(CHANNEL), tag(CHANNEL), uuid="late")
    await post_events(service, *before, late)
    await post_events(service, oslo.conference_ended(alias(CHANNEL), tag(CHANNEL)))
    await service.components.applier.drain()
    assert await people(service) == []
    monkeypatch.setattr(event_applier, "apply_report", real)
    database, clock = service.components.core.database, service.components.core.clock
    assert await event_applier.retry_failed(database, None, "test", clock) == 1
    await service.components.applier.drain()
    async with database.read() as conn:
        assert await meetings_repo.current_for_channel(conn, CHANNEL) is None  # type: ignore[arg-type]
    assert [r.outcome for r in await inbox_rows(service)].count("stale") == 1
    metrics = (await service.http.get("/metrics")).text
    assert 'meetbridge_events_applied_total{outcome="stale"} 1.0' in metrics
