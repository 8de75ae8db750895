"""Live captions end to end: meetbridge (in process) with a real livekit-server, its real
captioner process on the packaged Whisper base model, an espeak-ng synthetic speaker published by
LiveKit's Python SDK with the token meetbridge gave its user, and another member's meeting page
in headless Chromium. The page shows the spoken words with the speaker's name; caption lines a
normal participant sends on the captions topic are never shown.

Prints the caption latency (end of each utterance → its final line shown in the page) p50/p95,
the captioner's CPU while captioning, and the load average it was measured under: figures, not
assertions beyond a generous bound (this machine is shared).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, Page, expect

from meetbridge.domain.captions import CAPTIONS_TOPIC
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.recording import SAMPLE_RATE
from meetbridge.engines.livekit.captions import CaptionSettings, LiveKitCaptions
from meetbridge.engines.livekit.engine import room_name
from tests.browser.conftest import ARTIFACTS
from tests.browser.meeting_support import build_meeting_assets, eventually
from tests.browser.test_livekit_meeting_page import PageHost
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer
from tests.support.livekit_fixtures import (  # noqa: F401 (fixtures)
    livekit_binary,
    livekit_server,
    livekit_webhooks,
)
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.speech import (
    SpeechSpeaker,
    model_cache,
    require_transcription,
    spoken_pcm,
    word_error_rate,
)

pytest.importorskip("livekit.rtc")
pytestmark = pytest.mark.livekit

SENTENCES = (
    "The meeting will start tomorrow morning.",
    "We need to review the budget before lunch.",
    "Please send the quarterly report by Friday.",
    "I will call you after the review.",
    "The new office opens next month.",
)
GAP = 1.5  # seconds of silence between sentences: a pause ends an utterance
WER_BOUND = 0.2  # short chunks, one beam: a little looser than the transcript's 15%
LATENCY_BOUND = 15.0  # seconds: only catches captions that never come in time
TIMEOUT = 30_000  # ms

# Records, in the page, when each final caption line first shows (the page's own clock).
RECORD_CAPTIONS = """
window.__captions = [];
document.addEventListener('DOMContentLoaded', () => {
    const seen = new Set();
    const scan = () => {
        for (const item of document.querySelectorAll('#mb-caption-list li[data-final="true"]')) {
            const name = item.querySelector('.mb-caption-name')?.textContent ?? '';
            const text = item.querySelector('.mb-caption-text')?.textContent ?? '';
            const key = name + '|' + text;
            if (!seen.has(key)) {
                seen.add(key);
                window.__captions.push({ name, text, at: Date.now() });
            }
        }
    };
    new MutationObserver(scan).observe(document.body, {
        subtree: true, childList: true, characterData: true, attributes: true,
    });
});
"""


@pytest.fixture
async def service(
    config: Any,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,  # noqa: F811
) -> AsyncIterator[RunningApp]:
    require_transcription()
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        await running_app.components.admin.change_settings({"display_name": "full_name"}, "test")
        await running_app.components.state.refresh()
        yield running_app


@pytest.fixture
async def page_host() -> AsyncIterator[PageHost]:
    host = PageHost(build_meeting_assets())
    await host.start()
    yield host
    await host.stop()


async def page_config(service: RunningApp, channel: str, user: str) -> dict[str, Any]:
    link = await service.components.join.start(ChannelId(channel), UserId(user))
    target = await service.components.join.open(link.rsplit("/", 1)[1])
    return dict(target.page_config)


async def open_page(browser: Browser, host: PageHost, config: dict[str, Any]) -> Page:
    config = {**config, "controls": {"url": f"{host.url}/controls", "token": "stand-in"}}
    context = await browser.new_context(permissions=["camera", "microphone"])
    page = await context.new_page()
    page.on("pageerror", lambda error: print(f"[pageerror] {error}"))
    await page.add_init_script(RECORD_CAPTIONS)
    await page.goto(host.add(config))
    await expect(page.locator("#mb-status")).to_contain_text("In meeting", timeout=TIMEOUT)
    return page


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Forger:
    """A normal meeting participant (a member's own token) sending caption-shaped data."""

    def __init__(self, url: str, token: str) -> None:
        from livekit import rtc

        self.room = rtc.Room()
        self._url, self._token = url, token

    async def __aenter__(self) -> Forger:
        await self.room.connect(self._url, self._token)
        return self

    async def forge(self, identity: str) -> None:
        line = {"id": "forged#1", "identity": identity, "name": "Alice Archer",
                "text": "FORGED words nobody said", "final": True, "at": 1}  # fmt: skip
        await self.room.local_participant.publish_data(
            orjson.dumps(line), reliable=True, topic=CAPTIONS_TOPIC
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.room.disconnect()


def utterance_ends(pcms: list[bytes], gap: float) -> tuple[list[float], float]:
    """Where each sentence ends in the spoken audio, and its whole length (seconds)."""
    ends, at = [], 0.0
    for pcm in pcms:
        at += len(pcm) / (2 * SAMPLE_RATE)
        ends.append(at)
        at += gap
    return ends, at - gap


def latencies(captions: list[dict[str, Any]], ends: list[float]) -> list[float]:
    """Per sentence: from its end to the last final line that best matches it."""
    shown: dict[int, float] = {}
    for caption in captions:
        best = min(
            range(len(SENTENCES)), key=lambda i: word_error_rate(SENTENCES[i], caption["text"])
        )
        shown[best] = max(shown.get(best, 0.0), caption["at"] / 1000)
    return [shown[i] - ends[i] for i in sorted(shown)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_speakers_words_reach_a_meeting_page_as_captions_with_their_name(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer,  # noqa: F811
    browser: Browser, page_host: PageHost, tmp_path: Path,
) -> None:  # fmt: skip
    components = service.components
    alice = mattermost.add_user("alice", first="Alice", last="Archer")
    bob = mattermost.add_user("bob", first="Bob", last="Baker")
    mallory = mattermost.add_user("mallory", first="Mallory", last="Mole")
    channel = mattermost.add_channel("Planning", kind="P")
    captions = LiveKitCaptions(
        components.livekit,
        components.core.clock,
        lambda: CaptionSettings(cache=model_cache(), logs=tmp_path),  # language: detected
    )
    pcms = [spoken_pcm(sentence, "en-us", 150) for sentence in SENTENCES]
    gap = bytes(int(GAP * SAMPLE_RATE) * 2)
    spoken = gap.join(pcms)
    ends_in_speech, speech_seconds = utterance_ends(pcms, GAP)

    alice_config = await page_config(service, channel, alice)  # she starts it: the host
    async with SpeechSpeaker(
        livekit_server.ws_url, alice_config["livekit"]["token"], spoken
    ) as speaker:
        bob_page = await open_page(browser, page_host, await page_config(service, channel, bob))
        mallory_token = (await page_config(service, channel, mallory))["livekit"]["token"]
        async with Forger(livekit_server.ws_url, mallory_token) as forger:
            alice_identity = alice_config["identity"]
            await forger.forge(alice_identity)  # before captions are on

            await captions.start(ChannelId(channel), UserId(alice))
            await expect(bob_page.locator("#mb-captions-badge")).to_be_visible(timeout=TIMEOUT)
            await expect(bob_page.locator("#mb-notice")).to_have_text(
                "Live captions are on.", timeout=TIMEOUT
            )
            [pid] = captions.pids()

            async def captioner_joined() -> bool:
                present = await components.livekit.rooms().list_participants(
                    room_name(ChannelId(channel))
                )
                return any(p.identity.startswith("meetbridge-captioner-") for p in present)

            await eventually(captioner_joined, 60, "the captioner in the room")
            await asyncio.sleep(2.0)  # it subscribes to Alice's microphone
            await forger.forge(alice_identity)  # while captions are on

            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            speaker.speak()
            await asyncio.wait_for(speaker.said.wait(), speech_seconds + 30)
            said_at = time.time()

            async def all_captioned() -> bool:
                shown = await bob_page.evaluate("window.__captions.length")
                return int(shown) >= len(SENTENCES)

            await eventually(all_captioned, 60, "a final caption line for every sentence")
            await asyncio.sleep(1.0)  # lines of a sentence cut in two
            cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
            shown = await bob_page.evaluate("window.__captions")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await bob_page.screenshot(path=str(ARTIFACTS / "live-captions.png"))
            await forger.forge(alice_identity)
            await asyncio.sleep(1.0)
            assert "FORGED" not in (await bob_page.content())

    # The words, with the speaker's name as meetbridge knows it.
    heard = " ".join(caption["text"] for caption in shown)
    wer = word_error_rate(" ".join(SENTENCES), heard)
    assert {caption["name"] for caption in shown} == {"Alice Archer: "}, shown
    assert wer < WER_BOUND, heard

    # Latency: each sentence's end (known from where it sits in the audio, counted back from
    # the moment the whole speech was out) to its final line shown.
    ends = [said_at - (speech_seconds - end) for end in ends_in_speech]
    delays = latencies(shown, ends)
    p50 = statistics.median(delays)
    p95 = sorted(delays)[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    load = os.getloadavg()
    print(
        f"\ncaptions: {len(shown)} final lines for {len(SENTENCES)} sentences, WER {wer:.1%}; "
        f"latency p50 {p50:.2f} s, p95 {p95:.2f} s (each: "
        f"{', '.join(f'{d:.2f}' for d in delays)}); captioner CPU {cpu:.2f} cores for one "
        f"speaker talking; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
        f"{os.cpu_count()} cores"
    )
    assert max(delays) < LATENCY_BOUND, delays

    # Off: the badge goes, the captioner leaves by itself (the metadata no longer names it).
    await captions.stop(ChannelId(channel))
    await expect(bob_page.locator("#mb-captions-badge")).to_be_hidden(timeout=TIMEOUT)

    async def captioner_gone() -> bool:
        await captions.supervise()
        return not captions.pids()

    await eventually(captioner_gone, 30, "the captioner to leave")
    await bob_page.context.close()
