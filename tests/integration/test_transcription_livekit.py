"""From a real LiveKit meeting to its transcript: two synthetic speakers (espeak-ng, published by
LiveKit's Python SDK with the tokens meetbridge gives its users) talk one after the other while
meetbridge records. The mix has the right length and is not silence; each speaker's track is
kept with their Mattermost name and where it starts; the transcript says who said what, with a
word error rate under 15%. Mattermost is the stand-in (delivery: tests/e2e)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.recording import RecordingLimits
from meetbridge.domain.transcript import MANIFEST, parse_manifest
from meetbridge.engines.livekit.recording import LiveKitRecordings, RecordingSettings, files_of
from meetbridge.services.notifications import RECORDING_UPLOAD, TRANSCRIPT_POST
from meetbridge.store import recordings_repo, transcriptions_repo
from meetbridge.store.tables import outbox
from meetbridge.transcription.jobs import Transcriptions, TranscriptionSettings
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.speaker import audio_rms, media_duration
from tests.support.speech import (
    SpeechSpeaker,
    model_cache,
    require_transcription,
    spoken_pcm,
    word_error_rate,
)

pytest.importorskip("livekit.rtc")
pytestmark = pytest.mark.livekit

# Long enough that one burst of degraded audio (real-time media on a CPU-starved 2-core host
# conceals lost packets) costs a few words of many, not a fifth of the text: the threshold is
# about the transcriber. Each passage is transcribed with no error from espeak-ng's clean audio.
ALICE_SAYS = (
    "The meeting will start tomorrow morning. We need to review the budget before lunch. "
    "Please bring your laptop and the notes from last week."
)
BOB_SAYS = (
    "Please send the quarterly report by Friday. I will call you after the review. "
    "Thank you all for coming to the meeting today."
)
SILENCE_FLOOR = 300.0  # RMS of 16-bit audio; Opus silence is ~0


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    require_transcription()
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        await running_app.components.admin.change_settings({"display_name": "full_name"}, "test")
        await running_app.components.state.refresh()
        yield running_app


async def meeting_token(service: RunningApp, channel: str, user: str) -> str:
    link = await service.components.join.start(ChannelId(channel), UserId(user))
    config: dict[str, Any] = (
        await service.components.join.open(link.rsplit("/", 1)[1])
    ).page_config
    return str(config["livekit"]["token"])


async def recording_row(service: RunningApp, channel: str) -> recordings_repo.RecordingRow:
    async with service.components.core.database.read() as conn:
        row = await recordings_repo.active_for_channel(conn, channel)
    assert row is not None
    return row


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout * 20)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def payload(service: RunningApp, kind: str) -> dict[str, Any]:
    async with service.components.core.database.read() as conn:
        rows = (await conn.execute(select(outbox.c.payload).where(outbox.c.kind == kind))).all()
    [(found,)] = rows
    return dict(found)


async def tracks_listed(speakers: Path, count: int) -> bool:
    try:
        raw = await asyncio.to_thread((speakers / MANIFEST).read_bytes)
    except OSError:
        return False
    return len(parse_manifest(orjson.loads(raw))) >= count


def said_by(text: str, speaker: str) -> str:
    prefix = f"] {speaker}: "
    return " ".join(line.split(prefix, 1)[1] for line in text.splitlines() if prefix in line)


# The storage is covered on both databases by test_transcription_jobs.py; speech is the slow
# part here, so it runs once.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_two_speakers_are_recorded_on_their_own_tracks_and_transcribed_with_their_names(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    components = service.components
    alice = mattermost.add_user("alice", first="Alice", last="Archer")
    bob = mattermost.add_user("bob", first="Bob", last="Baker")
    channel = mattermost.add_channel("Planning", kind="P")
    directory = tmp_path / "recordings"
    transcriptions = Transcriptions(
        components.core.database,
        components.core.clock,
        lambda: TranscriptionSettings(enabled=True, workers=1, cache=model_cache(), language="en"),
        metrics=components.metrics.transcription,
    )
    recordings = LiveKitRecordings(
        components.livekit, components.core.database, components.core.clock,
        lambda: RecordingSettings(directory, RecordingLimits()), transcriptions=transcriptions,
    )  # fmt: skip
    alice_pcm, bob_pcm = spoken_pcm(ALICE_SAYS, "en-us", 140), spoken_pcm(BOB_SAYS, "en-us+f3", 140)

    alice_token = await meeting_token(service, channel, alice)
    async with SpeechSpeaker(livekit_server.ws_url, alice_token, alice_pcm) as first:
        await recordings.start(ChannelId(channel), UserId(alice))
        row = await recording_row(service, channel)
        files = files_of(directory, row.id)
        await wait_for(lambda: asyncio.to_thread(files.status.exists))
        recording_since = time.monotonic()
        await wait_for(lambda: tracks_listed(files.speakers, 1))  # the recorder hears Alice
        first.speak()
        await asyncio.wait_for(first.said.wait(), 30)
        await asyncio.sleep(0.5)  # the end of Alice's speech through LiveKit to the recorder
        bob_token = await meeting_token(service, channel, bob)
        bob_joined = time.monotonic() - recording_since
        async with SpeechSpeaker(livekit_server.ws_url, bob_token, bob_pcm) as second:
            await wait_for(lambda: tracks_listed(files.speakers, 2))
            second.speak()
            await asyncio.wait_for(second.said.wait(), 30)
            await asyncio.sleep(1.0)
            await recordings.stop(ChannelId(channel))
            recorded_for = time.monotonic() - recording_since

            async def finalised() -> bool:
                await recordings.supervise()
                async with components.core.database.read() as conn:
                    current = await recordings_repo.get(conn, row.id)
                return current is not None and current.state == recordings_repo.DONE

            await wait_for(finalised)

    # The mix: as long as the recording ran, and not silence.
    mixed = Path((await payload(service, RECORDING_UPLOAD))["path"])
    duration = await asyncio.to_thread(media_duration, mixed)
    assert abs(duration - recorded_for) <= 1.0, (duration, recorded_for)
    assert await asyncio.to_thread(audio_rms, mixed) > SILENCE_FLOOR

    # Each speaker's own track, with who they are and where they start in the recording.
    speakers = files_of(directory, row.id).speakers
    tracks = parse_manifest(orjson.loads((speakers / MANIFEST).read_bytes()))
    assert [(t.name, t.user_id) for t in tracks] == [("Alice Archer", alice), ("Bob Baker", bob)]
    assert tracks[0].start <= 0.5
    assert abs(tracks[1].start - bob_joined) <= 1.0, (tracks[1].start, bob_joined)
    for track in tracks:
        assert track.end is not None and track.end <= duration + 0.5
        assert await asyncio.to_thread(audio_rms, speakers / track.file) > SILENCE_FLOOR

    # The transcript: who said what, in order, close to the words spoken.
    await transcriptions.fill()
    await transcriptions.idle()
    post = await payload(service, TRANSCRIPT_POST)
    vtt = await asyncio.to_thread(Path(post["files"][0]["path"]).read_text)
    text = await asyncio.to_thread(Path(post["files"][1]["path"]).read_text)
    assert "<v Alice Archer>" in vtt and "<v Bob Baker>" in vtt
    alice_wer = word_error_rate(ALICE_SAYS, said_by(text, "Alice Archer"))
    bob_wer = word_error_rate(BOB_SAYS, said_by(text, "Bob Baker"))
    async with components.core.database.read() as conn:
        [job] = await transcriptions_repo.recent(conn, 1)
    print(
        f"\nrecorded {duration:.1f} s; word error rate Alice {alice_wer:.1%}, Bob {bob_wer:.1%}; "
        f"transcribed {job.audio_seconds:.1f} s of tracks, real-time factor "
        f"{job.real_time_factor:.2f}"
    )
    assert alice_wer < 0.15 and bob_wer < 0.15, text
    said_in_order = [line.split("] ", 1)[1].split(":", 1)[0] for line in text.splitlines()]
    assert said_in_order == sorted(said_in_order), text  # Alice's lines, then Bob's
