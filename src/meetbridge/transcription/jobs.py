"""Transcription jobs: the queue in the database and the bounded pool of worker processes.

A finalised recording with per-speaker tracks queues a job (in the same transaction that hands
the recording to the outbox). This host's replicas run queued jobs, at most ``workers`` at a
time, each in a worker process (transcription/worker.py), then merge the speakers' lines and
hand the transcript files to the outbox, which posts them in the meeting's thread. The queue is
durable, and a running job is leased (store/transcriptions_repo.py): its replica renews the lease
while the worker runs; a job whose replica stopped or hangs runs again once its lease expires,
and exactly one worker runs a job even with several replicas on one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.child_processes import OWNER_ONLY, child_environment, write_private_text
from meetbridge.clock import Clock
from meetbridge.domain.messages import DefaultLocale, Messages, english_default
from meetbridge.domain.transcript import (
    MANIFEST,
    Transcript,
    parse_manifest,
    to_text,
    to_vtt,
    transcript_from,
    transcript_message,
)
from meetbridge.services.notifications import (
    PostedFile,
    TranscriptPost,
    enqueue_meeting_reply,
    enqueue_transcript_post,
)
from meetbridge.store import transcriptions_repo
from meetbridge.store.database import Database
from meetbridge.store.transcriptions_repo import NewTranscription, TranscriptionRow
from meetbridge.transcription.worker import REFUSED, WorkerJob
from meetbridge.waits import wait_event

log = structlog.get_logger(__name__)

WORKER_MODULE = "meetbridge.transcription.worker"
MAX_ATTEMPTS = 3  # a worker that crashes this often on one recording will not do better
# Seconds a claim holds without renewal, renewed every third of it: a stopped replica's job
# waits this long at most before another replica (or this one, restarted) runs it again.
LEASE = 60.0


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    enabled: bool
    workers: int
    cache: Path
    model: Path | None = None
    model_sha256: str | None = None
    language: str | None = None
    threads: int = 0


class TranscriptionMetrics(Protocol):
    def jobs(self, counts: dict[str, int]) -> None: ...

    def finished(self, audio_seconds: float, processing_seconds: float) -> None: ...


class WorkerFailedError(Exception):
    """The worker process failed; the job may be tried again."""


class ModelRefusedByWorkerError(Exception):
    """The worker refused the model (missing, or its hash does not match): not worth a retry."""


def transcription_unavailable() -> str | None:
    """Why this host cannot transcribe (a missing part), or None."""
    if importlib.util.find_spec("faster_whisper") is None:
        return "Transcription needs meetbridge's `transcription` extra (faster-whisper)."
    return None


class Transcriptions:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        settings: Callable[[], TranscriptionSettings],
        wake_outbox: Callable[[], None] = lambda: None,
        metrics: TranscriptionMetrics | None = None,
        default_locale: DefaultLocale = english_default,
        lease: float = LEASE,
    ) -> None:
        self._default_locale = default_locale  # transcripts are posted in threads, read by many
        self._database = database
        self._clock = clock
        self._settings = settings
        self._wake_outbox = wake_outbox
        self._metrics = metrics
        self._node = socket.gethostname()  # the per-speaker files are local to this host
        # Who holds a lease: this process, not just this host (replicas share a host).
        self.worker = f"{self._node}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lease = lease
        self._running: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()

    # --- the queue ------------------------------------------------------------------------

    def wanted(self) -> bool:
        """Whether finalised recordings should keep their per-speaker tracks for a transcript."""
        if not self._settings().enabled:
            return False
        missing = transcription_unavailable()
        if missing is not None:
            log.warning("transcription.unavailable", reason=missing)
            return False
        return True

    async def enqueue(self, conn: AsyncConnection, job: NewTranscription) -> int:
        """Queue a transcript of a recording's speakers (inside the caller's transaction)."""
        return await transcriptions_repo.create(conn, job, self._clock.now())

    @property
    def node(self) -> str:
        return self._node

    def wake(self) -> None:
        self._wakeup.set()

    # --- the pool -------------------------------------------------------------------------

    async def run(self, interval: float = 2.0) -> None:
        try:
            while True:
                try:
                    await self.fill()
                    await self.report()
                except Exception:
                    log.exception("transcription.round_failed")
                await wait_event(self._wakeup, interval)
                self._wakeup.clear()
        finally:
            for task in list(self._running):
                task.cancel()  # their workers are killed; the jobs run again once leases expire

    async def fill(self) -> None:
        """Start queued jobs while a worker slot is free."""
        while len(self._running) < max(1, self._settings().workers):
            async with self._database.transaction() as conn:
                row = await transcriptions_repo.claim_next(
                    conn, self._node, self.worker, self._clock.now(), self._lease
                )
            if row is None:
                return
            task = asyncio.get_running_loop().create_task(self.process(row))
            self._running.add(task)
            task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wakeup.set()  # a slot is free

    async def idle(self) -> None:
        """Wait for the jobs running now (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def report(self) -> None:
        """Publish the queue's figures (jobs by state) to the metrics."""
        if self._metrics is None:
            return
        async with self._database.read() as conn:
            self._metrics.jobs(await transcriptions_repo.counts(conn))

    # --- one job --------------------------------------------------------------------------

    async def process(self, row: TranscriptionRow) -> None:
        log.info("transcription.started", job=row.id, recording=row.recording_id)
        this = asyncio.current_task()
        assert this is not None
        keeper = asyncio.get_running_loop().create_task(self._keep_lease(row.id, this))
        try:
            await self._run_job(row)
        finally:
            keeper.cancel()

    async def _keep_lease(self, job_id: int, job: asyncio.Task[None]) -> None:
        """Renew the job's lease while it runs; if another worker took it meanwhile (this one
        was too slow to renew), stop: its worker is killed and the job left to the other."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                async with self._database.transaction() as conn:
                    held = await transcriptions_repo.renew(
                        conn, job_id, self.worker, self._clock.now(), self._lease
                    )
            except Exception:
                log.exception("transcription.renew_failed", job=job_id)
                continue  # the lease may still hold: try again
            if not held:
                log.warning("transcription.lease_lost", job=job_id)
                job.cancel()
                return

    async def _run_job(self, row: TranscriptionRow) -> None:
        try:
            result = await self._transcribe(row)
            await self._finish(row, result)
        except ModelRefusedByWorkerError as exc:
            log.error("transcription.model_refused", job=row.id, error=str(exc))
            await self._fail(row, str(exc), "transcript.failed.model_refused")
        except Exception as exc:  # whatever went wrong, the job is tried again or given up
            log.exception("transcription.failed", job=row.id, attempt=row.attempts)
            if row.attempts >= MAX_ATTEMPTS:
                await self._fail(row, str(exc), "transcript.failed.worker_failed")
            else:
                async with self._database.transaction() as conn:
                    await transcriptions_repo.change_held(
                        conn,
                        row.id,
                        self.worker,
                        state=transcriptions_repo.QUEUED,
                        error=str(exc)[:500],
                    )

    async def _transcribe(self, row: TranscriptionRow) -> dict[str, Any]:
        settings = self._settings()
        job = WorkerJob(
            speakers=Path(row.speakers_dir),
            cache=settings.cache,
            model=settings.model,
            model_sha256=settings.model_sha256,
            language=settings.language,
            threads=settings.threads,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_environment(),  # it decodes what participants said: none of our secrets
            umask=OWNER_ONLY,
        )
        try:
            output, errors = await process.communicate(job.to_json())
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        if process.returncode == REFUSED:
            raise ModelRefusedByWorkerError(str(orjson.loads(output).get("error", "refused")))
        if process.returncode != 0:
            tail = errors.decode(errors="replace").strip().splitlines()[-3:]
            raise WorkerFailedError(f"worker exited {process.returncode}: {' | '.join(tail)}")
        result: dict[str, Any] = orjson.loads(output)
        return result

    async def _finish(self, row: TranscriptionRow, result: dict[str, Any]) -> None:
        speakers = Path(row.speakers_dir)
        transcript = await asyncio.to_thread(transcript_of, speakers, result)
        lines = transcript.lines
        base = speakers.parent / f"transcript-{row.recording_id}"
        vtt, txt = base.with_suffix(".vtt"), base.with_suffix(".txt")
        await asyncio.to_thread(write_private_text, vtt, to_vtt(lines))
        await asyncio.to_thread(write_private_text, txt, to_text(lines))
        post = TranscriptPost(
            channel_id=row.channel_id,
            meeting_id=row.meeting_id,
            message=transcript_message(
                lines,
                row.incomplete,
                Messages(await self._default_locale()),
                transcript.unreadable,
                transcript.readable,
            ),
            key=row.key,
            files=(
                PostedFile(str(vtt), vtt.name, "text/vtt"),
                PostedFile(str(txt), txt.name, "text/plain"),
            ),
        )
        audio, spent = float(result["audio_seconds"]), float(result["processing_seconds"])
        async with self._database.transaction() as conn:
            held = await transcriptions_repo.change_held(
                conn,
                row.id,
                self.worker,
                state=transcriptions_repo.DONE,
                finished_at=self._clock.now(),
                audio_seconds=audio,
                processing_seconds=spent,
                error=unreadable_note(result)[:500],  # for the admin: which file, and why
            )
            if held:  # else another worker runs it: it posts the transcript, not this one
                await enqueue_transcript_post(conn, post, self._clock.now())
        if not held:
            log.warning("transcription.lease_lost", job=row.id)
            return
        self._wake_outbox()
        await asyncio.to_thread(shutil.rmtree, speakers, True)  # the transcript replaces them
        if self._metrics is not None:
            self._metrics.finished(audio, spent)
        log.info(
            "transcription.done",
            job=row.id,
            lines=len(lines),
            audio_seconds=round(audio, 1),
            real_time_factor=round(spent / audio, 3) if audio else None,
            unreadable=unreadable_note(result) or None,
        )

    async def _fail(self, row: TranscriptionRow, error: str, reason: str) -> None:
        """Record the failure and say so in the meeting's thread (``reason``: a catalogue key)."""
        texts = Messages(await self._default_locale())
        async with self._database.transaction() as conn:
            held = await transcriptions_repo.change_held(
                conn,
                row.id,
                self.worker,
                state=transcriptions_repo.FAILED,
                finished_at=self._clock.now(),
                error=error[:500],
            )
            if not held:
                return  # another worker runs it now: its outcome is the one that counts
            if row.meeting_id is not None:
                note = texts("transcript.failed", reason=texts(reason))
                await enqueue_meeting_reply(
                    conn, row.meeting_id, note, f"{row.key}-failed", self._clock.now()
                )
        self._wake_outbox()
        await asyncio.to_thread(shutil.rmtree, Path(row.speakers_dir), True)


def transcript_of(speakers: Path, result: dict[str, Any]) -> Transcript:
    """The worker's segments, each track's placed at its offset with its speaker, merged; and
    whose tracks could not be read."""
    tracks = parse_manifest(orjson.loads((speakers / MANIFEST).read_bytes()))
    return transcript_from(tracks, result["tracks"])


def unreadable_note(result: dict[str, Any]) -> str:
    """Which track files the worker could not read, and why ("" when it read them all)."""
    return "; ".join(
        f"{track['file']} unreadable ({track['unreadable']})"
        for track in result["tracks"]
        if track.get("unreadable")
    )
