"""Read-only views of meetings, for the CLI, /meet status and the admin console."""

from __future__ import annotations

from dataclasses import dataclass

from meetbridge.domain.meetings import Meeting
from meetbridge.store import meetings_repo
from meetbridge.store.database import Database


@dataclass(frozen=True)
class MeetingOverview:
    in_progress: list[Meeting]
    recent: list[Meeting]


class MeetingQueries:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def overview(self, recent_limit: int = 20) -> MeetingOverview:
        async with self._database.read() as conn:
            return MeetingOverview(
                in_progress=await meetings_repo.in_progress(conn),
                recent=await meetings_repo.recent(conn, limit=recent_limit),
            )
