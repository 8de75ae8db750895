"""Read-only views of meetings, for the CLI, /meet status and the admin console."""

from __future__ import annotations

from dataclasses import dataclass

from meetbridge.domain.meetings import Meeting
from meetbridge.store import meetings_repo, recordings_repo
from meetbridge.store.database import Database
from meetbridge.store.recordings_repo import RecordingRow


@dataclass(frozen=True)
class MeetingOverview:
    in_progress: list[Meeting]
    recent: list[Meeting]


@dataclass(frozen=True)
class MeetingHistory:
    """One page of ended meetings, newest first, with each meeting's recordings."""

    meetings: list[Meeting]
    recordings: dict[int, list[RecordingRow]]
    has_next: bool


class MeetingQueries:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def overview(self, recent_limit: int = 20) -> MeetingOverview:
        async with self._database.read() as conn:
            return MeetingOverview(
                in_progress=await meetings_repo.in_progress(conn),
                recent=await meetings_repo.recent(conn, limit=recent_limit),
            )

    async def history(self, page: int, per_page: int) -> MeetingHistory:
        async with self._database.read() as conn:
            meetings = await meetings_repo.recent(
                conn, limit=per_page + 1, offset=(page - 1) * per_page
            )
            shown = meetings[:per_page]
            ids = [m.id for m in shown if m.id is not None]
            recordings = await recordings_repo.of_meetings(conn, ids)
        return MeetingHistory(shown, recordings, has_next=len(meetings) > per_page)
