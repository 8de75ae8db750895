"""Transcripts of a real meeting's recording, every part real: the Mattermost server, meetbridge
(its recorder and transcription workers, LiveKit's webhooks reaching it), a livekit-server and
Chromium pages that users reach as they do (/meet in Mattermost, their join link, Mattermost's
sign-in). The speaker's browser has espeak-ng sentences as its microphone (a 48 kHz WAV as
Chromium's fake capture device, played in a loop); the host's has Chromium's own fake one.

As in every channel meeting, both join muted: the recorder, joining after them, subscribes to
both microphones at once. The host records with /meet recording start (confirmed), the speaker
unmutes and talks, the host stops the recording, and the meeting ends within a second: everyone
leaves at once, or the host ends it for all. The recording and its transcript reach the card's
thread; the transcript has the speaker's sentences under their name (the host, muted all along,
said nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from meetbridge.domain.ids import ChannelId
from meetbridge.domain.transcript import MANIFEST, parse_manifest
from meetbridge.engines.livekit.engine import room_name
from meetbridge.engines.livekit.recording import files_of
from meetbridge.engines.livekit.rooms import LiveKitNotFoundError
from meetbridge.store import meetings_repo, recordings_repo
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.browser.meeting_support import build_meeting_assets
from tests.e2e.live import LiveMeetbridge, eventually, live_on_own_livekit
from tests.e2e.livekit.test_recording_with_mattermost import (
    card_post,
    download,
    file_posts,
    speech_model_settings,
)
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.support.requirements import require
from tests.support.speaker import stream_kinds
from tests.support.speech import SENTENCES, require_transcription, sentences_heard, speech_wav

pytest.importorskip("livekit.rtc")
pytestmark = [pytest.mark.mattermost, pytest.mark.livekit, pytest.mark.asyncio(loop_scope="module")]

CHANNEL = "private"  # alice, bob and carol: a channel, so pages join muted
TIMEOUT = 30_000  # ms: a join loads livekit-client and negotiates WebRTC on a busy machine
TALK = 20.0  # seconds the speaker talks, as in the issue


@dataclass
class Stack:
    live: LiveMeetbridge
    world: MattermostWorld
    host_browser: Browser  # Chromium's own fake microphone (a beep), muted all along here
    speaker_browser: Browser  # the sentences as its microphone

    async def page_of(self, name: str, browser: Browser, command: str) -> Page:
        """``name`` runs /meet ``command`` and opens the join link in their own browser,
        signed in to Mattermost."""
        user = self.world.users[name]
        answer = await self.live.meet(user, CHANNEL, command)
        context = await browser.new_context(
            permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
        )
        await context.add_cookies(
            [{"name": "MMAUTHTOKEN", "value": user.token, "url": self.world.url}]
        )
        page = await context.new_page()
        page.on("pageerror", lambda error: print(f"[{name} pageerror] {error}"))
        await page.goto(answer["goto_location"])
        return page


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    mattermost: MattermostWorld,
    livekit_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    require_transcription()
    executable = chromium_path()
    require(executable is not None, "Chromium (Debian package chromium)")
    build_meeting_assets()
    data = tmp_path_factory.mktemp("transcripts")
    speech = speech_wav(SENTENCES, data / "speech.wav")
    settings = {"recording_dir": data / "recordings", **speech_model_settings()}
    async with (
        live_on_own_livekit(mattermost, livekit_binary, data, **settings) as (live, _),
        async_playwright() as playwright,
    ):
        await live.setting("transcription_language", "en")
        host = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        speaker = await playwright.chromium.launch(
            executable_path=executable,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={speech}"],
        )
        yield Stack(live, mattermost, host, speaker)
        await speaker.close()
        await host.close()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def fresh_meeting(stack: Stack) -> None:
    """Each test starts a meeting of its own: the previous one's room is closed first, and
    meetbridge has seen its end (LiveKit's webhook)."""
    channel = ChannelId(stack.world.channels[CHANNEL])
    with contextlib.suppress(LiveKitNotFoundError):
        await stack.live.components.livekit.rooms().delete_room(room_name(channel))

    async def over() -> bool:
        async with stack.live.components.core.database.read() as conn:
            return await meetings_repo.current_for_channel(conn, channel) is None

    await eventually(over, 30)


async def in_meeting(page: Page) -> None:
    await expect(page.locator("#mb-status")).to_have_text(
        "In meeting with 1 other person", timeout=TIMEOUT
    )


async def unmute(page: Page) -> None:
    await expect(page.locator("#mb-mic")).to_have_accessible_name("Unmute microphone")
    await page.locator("#mb-mic").click()
    await expect(page.locator("#mb-mic")).to_have_accessible_name("Mute microphone")


async def recorder_hears(live: LiveMeetbridge, channel: str, tracks: int) -> Path:
    """The recording's speakers directory, once the recorder records and lists ``tracks``
    microphones (both muted ones: it subscribes to everyone present as it joins)."""

    async def listed() -> Path | None:
        async with live.components.core.database.read() as conn:
            row = await recordings_repo.active_for_channel(conn, channel)
        if row is None:
            return None
        speakers = files_of(live.components.core.config.effective_recording_dir, row.id).speakers
        try:
            manifest = parse_manifest(orjson.loads((speakers / MANIFEST).read_bytes()))
        except (OSError, orjson.JSONDecodeError):
            return None
        return speakers if len(manifest) >= tracks else None

    found: Path = await eventually(listed, 60, every=0.1)
    return found


async def thread_posts(
    live: LiveMeetbridge, root: str, known: set[str], count: int
) -> list[dict[str, Any]]:
    """The bot's new file posts in the card's thread, oldest first, once there are ``count``
    (a transcript follows its recording: it waits for the speech model)."""

    async def arrived() -> list[dict[str, Any]] | None:
        async with live.world.client(live.world.admin) as api:
            thread = (await api.get(f"/posts/{root}/thread")).json()["posts"]
        failed = [p["message"] for p in thread.values() if "could not be made" in p["message"]]
        assert not failed, failed  # the transcript failed: no need to wait for it
        fresh = [p for i, p in (await file_posts(live, root)).items() if i not in known]
        return sorted(fresh, key=lambda p: p["create_at"]) if len(fresh) >= count else None

    posts: list[dict[str, Any]] = await eventually(arrived, 240, every=1.0)
    return posts


async def file_info(live: LiveMeetbridge, user: Account, file_id: str) -> dict[str, Any]:
    async with live.world.client(user) as api:
        info: dict[str, Any] = (await api.get(f"/files/{file_id}/info")).json()
    return info


async def words_of(
    live: LiveMeetbridge, user: Account, post: dict[str, Any], name: str, into: Path
) -> str:
    """What the transcript's plain text says ``name`` said; every line must be theirs."""
    names = {(await file_info(live, user, i))["name"]: i for i in post["file_ids"]}
    [txt] = [file_id for file_name, file_id in names.items() if file_name.endswith(".txt")]
    text = await asyncio.to_thread((await download(live, user, txt, into)).read_text)
    lines = text.splitlines()
    assert lines and all(f"] {name}: " in line for line in lines), text
    return " ".join(line.split(f"] {name}: ", 1)[1] for line in lines)


async def record_a_talk(
    stack: Stack, share_screen: bool
) -> tuple[str, set[str], dict[str, Page], str]:
    """Alice hosts, Bob speaks (both joined muted); Alice records while Bob unmutes and talks
    (sharing his screen meanwhile, if ``share_screen``). Returns the card, the file posts
    already in its thread, the pages and Bob's name in the meeting; the recording runs on."""
    live, channel = stack.live, stack.world.channels[CHANNEL]
    alice = await stack.page_of("alice", stack.host_browser, "start")
    await expect(alice.locator("#mb-status")).to_have_text(
        "Waiting for others to join", timeout=TIMEOUT
    )
    bob = await stack.page_of("bob", stack.speaker_browser, "join")
    for page in (alice, bob):
        await in_meeting(page)
    root = await card_post(live, channel)
    known = set(await file_posts(live, root))
    started = await live.meet_confirmed(stack.world.users["alice"], CHANNEL, "recording start")
    assert started.status_code == 200, started.text
    await recorder_hears(live, channel, tracks=2)
    await unmute(bob)
    if share_screen:
        await bob.locator("#mb-share").click()
        await expect(alice.locator("#mb-presenter")).to_contain_text("presenting", timeout=TIMEOUT)
    await asyncio.sleep(TALK)
    name = str(await bob.evaluate("JSON.parse(document.getElementById('meetbridge-config')"
                                  ".textContent).displayName"))  # fmt: skip
    return root, known, {"alice": alice, "bob": bob}, name


async def screenshots(pages: dict[str, Page], test: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in pages.items():
        await page.screenshot(path=str(ARTIFACTS / f"transcripts-{test}-{name}.png"))


async def close_all(pages: dict[str, Page]) -> None:
    contexts: list[BrowserContext] = [page.context for page in pages.values()]
    await asyncio.gather(*(context.close() for context in contexts))


async def sentences_transcribed(
    stack: Stack, root: str, known: set[str], name: str, tmp_path: Path
) -> tuple[dict[str, Any], list[str], str]:
    """The recording's post, the sentences its transcript has under ``name`` (every line is
    theirs: the host said nothing), and the words it has."""
    live, alice = stack.live, stack.world.users["alice"]
    recording, transcript = await thread_posts(live, root, known, 2)
    assert transcript["message"] == f"Transcript of this meeting's recording ({name}).", transcript[
        "message"
    ]
    heard = await words_of(live, alice, transcript, name, tmp_path / "transcript.txt")
    return recording, sentences_heard(SENTENCES, heard), heard


async def test_a_speaker_who_joined_muted_is_transcribed_when_everyone_leaves_at_once(
    stack: Stack, tmp_path: Path
) -> None:
    root, known, pages, name = await record_a_talk(stack, share_screen=False)
    await screenshots(pages, "leave-at-once")
    stopped = await stack.live.meet_confirmed(stack.world.users["alice"], CHANNEL, "recording stop")
    assert stopped.status_code == 200, stopped.text
    asked = time.monotonic()
    await close_all(pages)  # everyone leaves at once
    left = time.monotonic() - asked

    recording, found, heard = await sentences_transcribed(stack, root, known, name, tmp_path)
    assert recording["message"].startswith("Recording of this meeting (0:2"), recording
    print(f"\neveryone left {left:.2f} s after the stop; {len(found)} of {len(SENTENCES)} "
          f"sentences heard: {heard}")  # fmt: skip
    assert len(found) >= 3, heard  # 20 s of a 17 s loop, cut in anywhere


async def test_a_speaker_sharing_their_screen_is_transcribed_when_the_host_ends_the_meeting(
    stack: Stack, tmp_path: Path
) -> None:
    alice = stack.world.users["alice"]
    root, known, pages, name = await record_a_talk(stack, share_screen=True)
    await screenshots(pages, "screen-share")
    stopped = await stack.live.meet_confirmed(alice, CHANNEL, "recording stop")
    assert stopped.status_code == 200, stopped.text
    asked = time.monotonic()
    await pages["alice"].get_by_role("button", name="End meeting for all").click()
    for page in pages.values():
        await expect(page.locator("#mb-status")).to_have_attribute(
            "data-state", "ended", timeout=TIMEOUT
        )
    ended = time.monotonic() - asked
    await close_all(pages)

    recording, found, heard = await sentences_transcribed(stack, root, known, name, tmp_path)
    info = await file_info(stack.live, alice, recording["file_ids"][0])
    assert info["extension"] == "webm", info  # the share made it a video
    video = await download(stack.live, alice, recording["file_ids"][0], tmp_path / "r.webm")
    assert stream_kinds(video) == ["vp8", "opus"]
    print(f"\nthe meeting ended {ended:.2f} s after the stop; {len(found)} of "
          f"{len(SENTENCES)} sentences heard: {heard}")  # fmt: skip
    assert len(found) >= 3, heard
