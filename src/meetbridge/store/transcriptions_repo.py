"""Transcription jobs: queued when a recording is finalised, claimed by a worker slot on the host
that holds the recording's files, done once the transcript is in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import transcriptions

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)


@dataclass(frozen=True, slots=True)
class TranscriptionRow:
    id: int
    recording_id: int
    channel_id: str
    meeting_id: int | None
    speakers_dir: str
    key: str
    incomplete: bool
    state: str
    node: str
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    audio_seconds: float | None
    processing_seconds: float | None
    error: str

    @property
    def real_time_factor(self) -> float | None:
        """Processing time over audio time (below 1: faster than real time)."""
        if not self.audio_seconds or self.processing_seconds is None:
            return None
        return self.processing_seconds / self.audio_seconds


def _row(row: Any) -> TranscriptionRow:
    return TranscriptionRow(
        **{column: getattr(row, column) for column in TranscriptionRow.__dataclass_fields__}
    )


@dataclass(frozen=True, slots=True)
class NewTranscription:
    recording_id: int
    channel_id: str
    meeting_id: int | None
    speakers_dir: str
    key: str
    incomplete: bool
    node: str


async def create(conn: AsyncConnection, job: NewTranscription, now: float) -> int:
    result = await conn.execute(
        insert(transcriptions).values(
            recording_id=job.recording_id,
            channel_id=job.channel_id,
            meeting_id=job.meeting_id,
            speakers_dir=job.speakers_dir,
            key=job.key,
            incomplete=job.incomplete,
            state=QUEUED,
            node=job.node,
            attempts=0,
            created_at=now,
            error="",
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def get(conn: AsyncConnection, job_id: int) -> TranscriptionRow | None:
    row = (await conn.execute(select(transcriptions).where(transcriptions.c.id == job_id))).first()
    return _row(row) if row is not None else None


async def claim_next(conn: AsyncConnection, node: str, now: float) -> TranscriptionRow | None:
    """The oldest queued job of ``node``, now running (None when the queue is empty)."""
    candidate = (
        await conn.execute(
            select(transcriptions.c.id)
            .where(transcriptions.c.state == QUEUED, transcriptions.c.node == node)
            .order_by(transcriptions.c.id)
            .limit(1)
        )
    ).first()
    if candidate is None:
        return None
    claimed = await conn.execute(
        update(transcriptions)
        .where(transcriptions.c.id == candidate.id, transcriptions.c.state == QUEUED)
        .values(state=RUNNING, started_at=now, attempts=transcriptions.c.attempts + 1)
    )
    if not claimed.rowcount:
        return None  # another replica of this host took it first
    return await get(conn, int(candidate.id))


async def requeue_running(conn: AsyncConnection, node: str) -> int:
    """After a restart: jobs that were running here lost their worker; they run again."""
    result = await conn.execute(
        update(transcriptions)
        .where(transcriptions.c.state == RUNNING, transcriptions.c.node == node)
        .values(state=QUEUED)
    )
    return int(result.rowcount or 0)


async def change(conn: AsyncConnection, job_id: int, **values: Any) -> None:
    await conn.execute(update(transcriptions).where(transcriptions.c.id == job_id).values(**values))


async def counts(conn: AsyncConnection) -> dict[str, int]:
    """How many jobs are in each state (every state present, 0 when none)."""
    rows = await conn.execute(
        select(transcriptions.c.state, func.count()).group_by(transcriptions.c.state)
    )
    found = {str(state): int(count) for state, count in rows}
    return {state: found.get(state, 0) for state in STATES}


async def recent(conn: AsyncConnection, limit: int = 5) -> list[TranscriptionRow]:
    rows = await conn.execute(
        select(transcriptions).order_by(transcriptions.c.id.desc()).limit(limit)
    )
    return [_row(row) for row in rows]
