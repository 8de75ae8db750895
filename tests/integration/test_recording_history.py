"""The admin console's meeting history query: each ended meeting with its own recordings (in
the order they were started, with what was posted), a page at a time, newest meeting first."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from meetbridge.domain.ids import ChannelId
from meetbridge.domain.meetings import Meeting
from meetbridge.services.meeting_queries import MeetingQueries
from meetbridge.store import meetings_repo, migrate, recordings_repo
from meetbridge.store.database import Database, open_database

CHANNEL = ChannelId("c" * 26)
POST = "p" * 26


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.close()


async def ended_meeting(database: Database, started_at: float) -> int:
    meeting = Meeting(f"conf-{started_at}", CHANNEL, started_at, ended_at=started_at + 600)
    async with database.transaction() as conn:
        await meetings_repo.save(conn, "livekit", meeting)
    assert meeting.id is not None
    return meeting.id


async def recording(database: Database, meeting_id: int, started_at: float, **after: object) -> int:
    async with database.transaction() as conn:
        recording_id = await recordings_repo.create(
            conn, CHANNEL, meeting_id, "room", "u" * 26, started_at, "node"
        )
        if after:
            await recordings_repo.change(conn, recording_id, **after)
    return recording_id


async def test_each_meeting_lists_its_own_recordings_in_order_with_what_was_posted(
    database: Database,
) -> None:
    first, second, bare = [await ended_meeting(database, t) for t in (1000.0, 5000.0, 9000.0)]
    later = await recording(database, first, 1300.0, state="failed")
    earlier = await recording(
        database, first, 1100.0, state="done", seconds=61.5, size_bytes=400_000, incomplete=True
    )
    async with database.transaction() as conn:
        await recordings_repo.posted(conn, earlier, POST)
    other = await recording(database, second, 5100.0)
    await recording(database, 424242, 5200.0)  # another meeting's, not on this page

    history = await MeetingQueries(database).history(page=1, per_page=10)

    assert [m.id for m in history.meetings] == [bare, second, first]  # newest first
    assert not history.has_next
    assert bare not in history.recordings
    assert [r.id for r in history.recordings[first]] == [earlier, later]
    shown = history.recordings[first][0]
    assert (shown.state, shown.seconds, shown.size_bytes, shown.incomplete, shown.post_id) == (
        "done", 61.5, 400_000, True, POST,
    )  # fmt: skip
    assert [(r.id, r.state, r.post_id) for r in history.recordings[second]] == [
        (other, "recording", "")
    ]


async def test_the_history_comes_a_page_at_a_time_with_only_that_page_s_recordings(
    database: Database,
) -> None:
    meetings = [await ended_meeting(database, 1000.0 * n) for n in range(1, 6)]
    recorded = {m: await recording(database, m, 1000.0 * n + 1) for n, m in enumerate(meetings, 1)}
    queries = MeetingQueries(database)

    pages = [await queries.history(page, per_page=2) for page in (1, 2, 3)]

    assert [[m.id for m in p.meetings] for p in pages] == [
        meetings[4:2:-1],
        meetings[2:0:-1],
        meetings[:1],
    ]
    assert [p.has_next for p in pages] == [True, True, False]
    for page in pages:
        assert {
            meeting_id: [r.id for r in rows] for meeting_id, rows in page.recordings.items()
        } == {m.id: [recorded[m.id]] for m in page.meetings if m.id is not None}
    assert (await queries.history(9, per_page=2)).meetings == []
