"""The transcription queue with the real worker process, faster-whisper and the packaged model:
speaker tracks spoken by espeak-ng (as the recorder writes them: Ogg/Opus and a manifest) are
transcribed, attributed and merged, and the transcript handed to the outbox; a job survives a
restart; two replicas on one database run a job once (its claim is a lease renewed while it
runs); a tampered model is refused and the thread is told. Mattermost is the stand-in here
(delivery through the outbox is tested with the real one in tests/e2e)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import UserId
from meetbridge.domain.transcript import MANIFEST
from meetbridge.services.notifications import MEETING_REPLY, TRANSCRIPT_POST
from meetbridge.store import transcriptions_repo
from meetbridge.store.tables import outbox
from meetbridge.store.transcriptions_repo import NewTranscription
from meetbridge.transcription.jobs import Transcriptions, TranscriptionSettings
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.speech import (
    model_cache,
    require_transcription,
    spoken_pcm,
    word_error_rate,
    write_ogg,
)

ALICE = ("a" * 26, "Alice Archer", "The meeting will start tomorrow morning. We need to review the budget before lunch.", "en-us")  # fmt: skip
BOB = ("b" * 26, "Bob Baker", "Please send the quarterly report by Friday. I will call you after the review.", "en-us+f3")  # fmt: skip
BOB_OFFSET = 9.0  # where Bob's track starts in the recording


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> AsyncIterator[RunningApp]:
    require_transcription()
    app = create_app(
        config, mattermost_transport=mattermost.transport(), auto_migrate=True, background=False
    )
    async with running(app) as running_app:
        yield running_app


def speakers_dir(tmp_path: Path, *speakers: tuple[tuple[str, str, str, str], float]) -> Path:
    """A recording's speaker tracks as the recorder leaves them."""
    directory = tmp_path / "recordings" / "recording-7.speakers"
    directory.mkdir(parents=True)
    manifest = []
    for number, ((user_id, name, sentence, voice), start) in enumerate(speakers, start=1):
        write_ogg(spoken_pcm(sentence, voice, 140), directory / f"{number}.ogg", 0.5)
        identity = f"{user_id}.d{number}"
        manifest.append(
            {"file": f"{number}.ogg", "identity": identity, "name": name, "start": start}
        )
    (directory / MANIFEST).write_bytes(orjson.dumps(manifest))
    return directory


def transcriptions_for(service: RunningApp, **overrides: Any) -> Transcriptions:
    settings = TranscriptionSettings(
        enabled=True, workers=1, cache=model_cache(), language="en", **overrides
    )
    components = service.components
    return Transcriptions(
        components.core.database,
        components.core.clock,
        lambda: settings,
        metrics=components.metrics.transcription,
    )


async def queue(service: RunningApp, transcriptions: Transcriptions, speakers: Path) -> int:
    job = NewTranscription(
        recording_id=7,
        channel_id="c" * 26,
        meeting_id=None,
        speakers_dir=str(speakers),
        key="transcript-test-7",
        incomplete=False,
        node=transcriptions.node,
    )
    async with service.components.core.database.transaction() as conn:
        return await transcriptions.enqueue(conn, job)


async def outbox_payloads(service: RunningApp, kind: str) -> list[dict[str, Any]]:
    async with service.components.core.database.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(outbox.c.kind == kind))
        return [dict(payload) for (payload,) in rows]


async def job(service: RunningApp, job_id: int) -> transcriptions_repo.TranscriptionRow:
    async with service.components.core.database.read() as conn:
        row = await transcriptions_repo.get(conn, job_id)
    assert row is not None
    return row


async def transcribed(
    service: RunningApp, transcriptions: Transcriptions, speakers: Path
) -> transcriptions_repo.TranscriptionRow:
    """The job of the speakers' transcript, queued and run to its end: done."""
    job_id = await queue(service, transcriptions, speakers)
    await transcriptions.fill()
    await transcriptions.idle()
    done = await job(service, job_id)
    assert done.state == transcriptions_repo.DONE, done.error
    return done


def said_by(text: str, speaker: str) -> str:
    """What the plain-text transcript attributes to ``speaker``."""
    prefix = f"] {speaker}: "
    return " ".join(line.split(prefix, 1)[1] for line in text.splitlines() if prefix in line)


# Speech is the slow part: once is enough (the storage runs on both databases below).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_each_speakers_sentences_are_transcribed_attributed_merged_and_handed_to_the_outbox(
    service: RunningApp, tmp_path: Path, open_umask: None
) -> None:
    speakers = speakers_dir(tmp_path, (ALICE, 0.0), (BOB, BOB_OFFSET))
    transcriptions = transcriptions_for(service)
    done = await transcribed(service, transcriptions, speakers)
    assert done.real_time_factor is not None
    print(
        f"\ntranscription: {done.audio_seconds:.1f} s of audio, real-time factor {done.real_time_factor:.2f}"
    )
    [post] = await outbox_payloads(service, TRANSCRIPT_POST)
    assert post["key"] == "transcript-test-7"
    assert "Alice Archer" in post["message"] and "Bob Baker" in post["message"]
    vtt_file, txt_file = (Path(f["path"]) for f in post["files"])
    assert [f["filename"] for f in post["files"]] == ["transcript-7.vtt", "transcript-7.txt"]
    vtt, text = (
        await asyncio.to_thread(vtt_file.read_text),
        await asyncio.to_thread(txt_file.read_text),
    )
    assert vtt.startswith("WEBVTT\n")
    # Owner-only whatever the umask (issue 20, item 8).
    assert {stat.S_IMODE(f.stat().st_mode) for f in (vtt_file, txt_file)} == {0o600}
    assert "<v Alice Archer>" in vtt and "<v Bob Baker>" in vtt
    alice_wer = word_error_rate(ALICE[2], said_by(text, "Alice Archer"))
    bob_wer = word_error_rate(BOB[2], said_by(text, "Bob Baker"))
    print(f"word error rate: Alice {alice_wer:.1%}, Bob {bob_wer:.1%}")
    assert alice_wer < 0.15 and bob_wer < 0.15, text
    # Merged by time: Bob (from 9 s into the recording) after everything Alice said.
    speakers_in_order = [line.split("] ", 1)[1].split(":", 1)[0] for line in text.splitlines()]
    assert speakers_in_order[-1] == "Bob Baker"
    assert all(s == "Alice Archer" for s in speakers_in_order[:-1])
    assert "] Bob Baker:" in text.splitlines()[-1] and text.splitlines()[-1].startswith("[0:09]")
    assert not speakers.exists()  # the transcript replaces the speaker tracks

    await transcriptions.report()
    figures = service.components.metrics.render().decode()
    assert 'meetbridge_transcription_jobs{state="done"} 1.0' in figures
    assert "meetbridge_transcription_real_time_factor_count 1.0" in figures


CAROL = ("c" * 26, "Carol Cole", "Thank you all for joining today.", "en-us")  # fmt: skip


def ogg_pages(data: bytes) -> list[bytes]:
    """An Ogg file's pages (each: a 27-byte header, its segment table, then its segments)."""
    pages, at = [], 0
    while at < len(data):
        count = data[at + 26]
        size = 27 + count + sum(data[at + 27 : at + 27 + count])
        pages.append(data[at : at + size])
        at += size
    return pages


def spliced(headers_from: Path, audio_from: Path, into: Path) -> None:
    """What two encoders writing one path left (the recorder's numbering race, seen in a real
    meeting): one Ogg stream's two header pages, then another stream's audio pages."""
    first, second = ogg_pages(headers_from.read_bytes()), ogg_pages(audio_from.read_bytes())
    into.write_bytes(b"".join(first[:2] + second[2:]))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_speaker_whose_audio_cannot_be_read_costs_only_their_lines_and_is_named(
    service: RunningApp, tmp_path: Path
) -> None:
    speakers = speakers_dir(tmp_path, (ALICE, 0.0), (BOB, BOB_OFFSET), (CAROL, 20.0))
    # Bob's file as the recorder's numbering race left it; Carol's as an encoder given no
    # audio at all writes it (headers only).
    await asyncio.to_thread(spliced, speakers / "2.ogg", speakers / "1.ogg", speakers / "2.ogg")
    await asyncio.to_thread(write_ogg, b"", speakers / "3.ogg")
    done = await transcribed(service, transcriptions_for(service), speakers)
    assert done.attempts == 1  # an unreadable file is not worth another try
    assert "2.ogg unreadable" in done.error and "3.ogg unreadable" in done.error, done.error
    [post] = await outbox_payloads(service, TRANSCRIPT_POST)
    assert post["message"] == (
        "Transcript of this meeting's recording (Alice Archer).\n"
        "The audio of Bob Baker, Carol Cole could not be read: their words are missing from "
        "this transcript."
    )
    text = await asyncio.to_thread(Path(post["files"][1]["path"]).read_text)
    assert word_error_rate(ALICE[2], said_by(text, "Alice Archer")) < 0.15, text
    assert "Bob Baker" not in text and "Carol Cole" not in text
    assert not await outbox_payloads(service, MEETING_REPLY)  # no failure said


async def done_or_timed_out(service: RunningApp, job_id: int, seconds: float = 120.0) -> None:
    """Until the job is done, or ``seconds`` pass (the caller asserts which)."""
    for _ in range(round(seconds * 10)):
        if (await job(service, job_id)).state == transcriptions_repo.DONE:
            return
        await asyncio.sleep(0.1)


async def test_a_job_running_when_meetbridge_stopped_runs_again_after_the_restart(
    service: RunningApp, tmp_path: Path
) -> None:
    speakers = speakers_dir(tmp_path, (BOB, 0.0))
    before = transcriptions_for(service)
    job_id = await queue(service, before, speakers)
    async with service.components.core.database.transaction() as conn:
        # Its lease ran out long ago: then meetbridge stopped (and renewed it no more).
        claimed = await transcriptions_repo.claim_next(conn, before.node, before.worker, 0.0, 60)
    assert claimed is not None and claimed.id == job_id

    after = transcriptions_for(service)  # the restarted meetbridge
    pool = asyncio.create_task(after.run(interval=0.2))
    try:
        await done_or_timed_out(service, job_id)
    finally:
        pool.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pool
    finished = await job(service, job_id)
    assert finished.state == transcriptions_repo.DONE, finished.error
    assert finished.attempts == 2
    [post] = await outbox_payloads(service, TRANSCRIPT_POST)
    text = await asyncio.to_thread(Path(post["files"][1]["path"]).read_text)
    assert word_error_rate(BOB[2], said_by(text, "Bob Baker")) < 0.15, text


async def test_a_tampered_model_is_refused_the_job_fails_saying_why_and_the_thread_is_told(
    service: RunningApp, tmp_path: Path
) -> None:
    speakers = speakers_dir(tmp_path, (BOB, 0.0))
    swapped = tmp_path / "model"
    swapped.mkdir()
    (swapped / "model.bin").write_bytes(b"not the model the admin checked")
    transcriptions = transcriptions_for(service, model=swapped, model_sha256="0" * 64)
    job_id = await queue(service, transcriptions, speakers)
    async with service.components.core.database.transaction() as conn:
        await transcriptions_repo.change(conn, job_id, meeting_id=41)
    await transcriptions.fill()
    await transcriptions.idle()

    failed = await job(service, job_id)
    assert failed.state == transcriptions_repo.FAILED
    assert "is not the expected one" in failed.error and "Refusing to use it" in failed.error
    assert failed.attempts == 1  # a refused model is not retried
    assert await outbox_payloads(service, TRANSCRIPT_POST) == []
    [note] = await outbox_payloads(service, MEETING_REPLY)
    assert note["meeting_id"] == 41
    assert "could not be made" in note["message"] and "speech model was refused" in note["message"]
    assert not speakers.exists()


async def test_the_queue_shows_in_metrics_and_on_the_admin_overview(
    service: RunningApp, mattermost: MattermostStandIn, tmp_path: Path
) -> None:
    transcriptions = transcriptions_for(service)
    ids = [await queue(service, transcriptions, tmp_path / f"s{n}") for n in range(4)]
    async with service.components.core.database.transaction() as conn:
        await transcriptions_repo.change(conn, ids[1], state=transcriptions_repo.RUNNING)
        await transcriptions_repo.change(
            conn, ids[2], state="done", audio_seconds=120.0, processing_seconds=30.0
        )
        await transcriptions_repo.change(
            conn, ids[3], state="failed", error="The speech model <b>was refused</b>"
        )
    await transcriptions.report()
    figures = (await service.http.get("/metrics")).text
    for state in ("queued", "running", "done", "failed"):
        assert f'meetbridge_transcription_jobs{{state="{state}"}} 1.0' in figures

    admin = mattermost.add_user("root", roles="system_admin system_user")
    console = service.components.console
    signed_in = await console.sign_in(console.login_link_token(UserId(admin)), UserId(admin))
    page = await service.http.get(
        "/admin", headers={"Cookie": f"meetbridge_admin={signed_in.cookie}"}
    )
    assert page.status_code == 200
    assert (
        "Queued: <strong>1</strong>, running: <strong>1</strong>, done: <strong>1</strong>, "
        "failed: <strong>1</strong>" in page.text
    )
    assert "<td>0.25</td>" in page.text  # 30 s to transcribe 120 s: the real-time factor
    assert "&lt;b&gt;was refused&lt;/b&gt;" in page.text  # errors are shown, escaped


async def test_the_pool_runs_no_more_jobs_at_once_than_its_workers(
    service: RunningApp, tmp_path: Path
) -> None:
    swapped = tmp_path / "model"  # refused at once: the test is about the pool, not speech
    swapped.mkdir()
    (swapped / "model.bin").write_bytes(b"x")
    transcriptions = transcriptions_for(service, model=swapped, model_sha256="0" * 64)
    for number in range(3):
        directory = tmp_path / f"s{number}"
        directory.mkdir()
        (directory / MANIFEST).write_bytes(b"[]")
        await queue(service, transcriptions, directory)
    await transcriptions.fill()
    async with service.components.core.database.read() as conn:
        assert await transcriptions_repo.counts(conn) == {
            "queued": 2, "running": 1, "done": 0, "failed": 0,
        }  # fmt: skip
    await transcriptions.idle()
    await transcriptions.fill()  # the next one, once a slot is free
    async with service.components.core.database.read() as conn:
        counts = await transcriptions_repo.counts(conn)
    assert (counts["queued"], counts["running"], counts["failed"]) == (1, 1, 1)
    await transcriptions.idle()


async def test_a_worker_that_keeps_failing_is_given_up_after_three_attempts_saying_so(
    service: RunningApp, tmp_path: Path
) -> None:
    missing = tmp_path / "recordings" / "recording-7.speakers"  # its tracks are gone
    transcriptions = transcriptions_for(service)
    job_id = await queue(service, transcriptions, missing)
    async with service.components.core.database.transaction() as conn:
        await transcriptions_repo.change(conn, job_id, meeting_id=41)
    states = []
    for _ in range(3):
        await transcriptions.fill()
        await transcriptions.idle()
        states.append((await job(service, job_id)).state)
    assert states == ["queued", "queued", "failed"]
    failed = await job(service, job_id)
    assert failed.attempts == 3 and "worker exited 1" in failed.error
    [note] = await outbox_payloads(service, MEETING_REPLY)
    assert "transcriber failed" in note["message"]


async def claim(
    service: RunningApp, transcriptions: Transcriptions, now: float, lease: float = 60.0
) -> transcriptions_repo.TranscriptionRow | None:
    async with service.components.core.database.transaction() as conn:
        return await transcriptions_repo.claim_next(
            conn, transcriptions.node, transcriptions.worker, now, lease
        )


async def test_two_replicas_claiming_at_once_take_each_job_exactly_once(
    service: RunningApp, tmp_path: Path
) -> None:
    first, second = transcriptions_for(service), transcriptions_for(service)
    assert first.worker != second.worker and first.node == second.node  # replicas on one host
    queued = {await queue(service, first, tmp_path / f"s{n}") for n in range(12)}
    taken: dict[str, list[int]] = {first.worker: [], second.worker: []}

    async def claim_all(replica: Transcriptions) -> None:
        while (row := await claim(service, replica, 1000.0)) is not None:
            assert row.claimed_by == replica.worker and row.lease_until == 1060.0
            taken[replica.worker].append(row.id)

    await asyncio.gather(claim_all(first), claim_all(second))
    both = taken[first.worker] + taken[second.worker]
    assert sorted(both) == sorted(queued)  # each job once: none twice, none left
    # While their leases hold, neither replica takes a job again.
    assert await claim(service, first, 1059.0) is None
    assert await claim(service, second, 1059.0) is None


async def test_a_renewed_lease_keeps_the_job_and_an_expired_one_passes_it_to_another_worker(
    service: RunningApp, tmp_path: Path
) -> None:
    first, second = transcriptions_for(service), transcriptions_for(service)
    job_id = await queue(service, first, tmp_path / "s")
    held = await claim(service, first, 100.0, lease=10.0)
    assert held is not None and held.id == job_id and held.attempts == 1
    database = service.components.core.database
    async with database.transaction() as conn:
        assert await transcriptions_repo.renew(conn, job_id, first.worker, 108.0, 10.0)
    assert await claim(service, second, 115.0) is None  # renewed until 118

    taken = await claim(service, second, 118.5)  # first stopped renewing: expired
    assert taken is not None and taken.id == job_id
    assert (taken.claimed_by, taken.attempts) == (second.worker, 2)
    async with database.transaction() as conn:
        # The first worker, back from a stall, holds nothing: it cannot renew, finish or fail it.
        assert not await transcriptions_repo.renew(conn, job_id, first.worker, 119.0, 10.0)
        for state in (transcriptions_repo.DONE, transcriptions_repo.FAILED, "queued"):
            assert not await transcriptions_repo.change_held(
                conn, job_id, first.worker, state=state
            )
    assert (await job(service, job_id)).claimed_by == second.worker
    async with database.transaction() as conn:
        assert await transcriptions_repo.change_held(
            conn, job_id, second.worker, state=transcriptions_repo.DONE
        )
    done = await job(service, job_id)
    assert (done.state, done.claimed_by, done.lease_until) == ("done", "", None)
    assert await claim(service, first, 1e12) is None  # done is never claimable


@pytest.mark.parametrize("lease", [0.5])
async def test_two_replicas_running_their_pools_run_a_long_job_once_renewing_its_lease(
    service: RunningApp, tmp_path: Path, lease: float
) -> None:
    """The worker takes several leases' time: renewed, the other replica never takes it.
    Three tracks, so that even a fast machine spends well over two leases on them."""
    speakers = speakers_dir(tmp_path, (ALICE, 0.0), (BOB, BOB_OFFSET), (ALICE, 20.0))
    components = service.components
    settings = TranscriptionSettings(enabled=True, workers=1, cache=model_cache(), language="en")
    replicas = [
        Transcriptions(
            components.core.database, components.core.clock, lambda: settings, lease=lease
        )
        for _ in range(2)
    ]
    job_id = await queue(service, replicas[0], speakers)
    pools = [asyncio.create_task(replica.run(interval=0.1)) for replica in replicas]
    try:
        await done_or_timed_out(service, job_id)
    finally:
        for pool in pools:
            pool.cancel()
        await asyncio.gather(*pools, return_exceptions=True)
    finished = await job(service, job_id)
    assert finished.state == transcriptions_repo.DONE, finished.error
    assert finished.finished_at is not None and finished.started_at is not None
    assert finished.finished_at - finished.started_at > 2 * lease  # outlived its first leases
    assert finished.attempts == 1  # claimed once: never by the other replica
    assert len(await outbox_payloads(service, TRANSCRIPT_POST)) == 1
