"""Transcription jobs: queued when a recording is finalised, claimed by a worker slot on the host
that holds the recording's files, done once the transcript is in the outbox.

A claim is a lease: the claiming worker (``claimed_by``) renews ``lease_until`` while it runs
the job; a lease that expired (its replica died or hangs) makes the job claimable again, and
only the lease's holder may finish, requeue or fail it. Every change is one conditional UPDATE,
so two replicas on one database never both hold a job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
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
    claimed_by: str
    lease_until: float | None
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


def _claimable(node: str, now: float) -> ColumnElement[bool]:
    """Queued, or running under a lease that expired (none: claimed before leases)."""
    expired = or_(transcriptions.c.lease_until.is_(None), transcriptions.c.lease_until < now)
    return and_(
        transcriptions.c.node == node,
        or_(
            transcriptions.c.state == QUEUED,
            and_(transcriptions.c.state == RUNNING, expired),
        ),
    )


async def claim_next(
    conn: AsyncConnection, node: str, worker: str, now: float, lease: float
) -> TranscriptionRow | None:
    """The oldest claimable job of ``node``, now running under ``worker``'s lease for ``lease``
    seconds (None when there is none)."""
    candidate = (
        await conn.execute(
            select(transcriptions.c.id)
            .where(_claimable(node, now))
            .order_by(transcriptions.c.id)
            .limit(1)
        )
    ).first()
    if candidate is None:
        return None
    claimed = await conn.execute(
        update(transcriptions)
        .where(transcriptions.c.id == candidate.id, _claimable(node, now))
        .values(
            state=RUNNING,
            claimed_by=worker,
            lease_until=now + lease,
            started_at=now,
            attempts=transcriptions.c.attempts + 1,
        )
    )
    if not claimed.rowcount:
        return None  # another replica took it first
    return await get(conn, int(candidate.id))


def _held(job_id: int, worker: str) -> ColumnElement[bool]:
    return and_(
        transcriptions.c.id == job_id,
        transcriptions.c.state == RUNNING,
        transcriptions.c.claimed_by == worker,
    )


async def renew(conn: AsyncConnection, job_id: int, worker: str, now: float, lease: float) -> bool:
    """Extend ``worker``'s lease on a running job; False when it holds it no more."""
    result = await conn.execute(
        update(transcriptions).where(_held(job_id, worker)).values(lease_until=now + lease)
    )
    return bool(result.rowcount)


async def change_held(conn: AsyncConnection, job_id: int, worker: str, **values: Any) -> bool:
    """Change a running job only if ``worker`` still holds its lease (finish, fail, requeue);
    False when another worker took it meanwhile: nothing is changed."""
    if values.get("state", RUNNING) != RUNNING:
        values = {"claimed_by": "", "lease_until": None, **values}  # the lease ends with the run
    result = await conn.execute(
        update(transcriptions).where(_held(job_id, worker)).values(**values)
    )
    return bool(result.rowcount)


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
