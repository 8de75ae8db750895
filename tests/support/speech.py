"""Synthetic speakers for transcription tests: known sentences spoken by Debian's espeak-ng,
published into a real LiveKit room by a Python participant (LiveKit's SDK), and the word error
rate to grade a transcript against what was said."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path
from types import TracebackType
from typing import Any

from meetbridge.domain.recording import SAMPLE_RATE
from tests.support.requirements import require

TEN_MS_BYTES = SAMPLE_RATE // 100 * 2  # 16-bit mono
SENTENCES = (
    "The meeting will start tomorrow morning.",
    "We need to review the budget before lunch.",
    "Please send the quarterly report by Friday.",
    "I will call you after the review.",
    "The new office opens next month.",
)  # a speaker's lines in the caption and transcript tests
_WORD = re.compile(r"[a-z0-9']+")


def require_espeak() -> None:
    require(shutil.which("espeak-ng") is not None, "espeak-ng (Debian package espeak-ng)")


def require_transcription() -> None:
    require_espeak()
    require(shutil.which("ffmpeg") is not None, "ffmpeg (Debian package ffmpeg)")
    installed = importlib.util.find_spec("faster_whisper") is not None
    require(installed, "meetbridge's `transcription` extra (faster-whisper and the model)")


def model_cache() -> Path:
    """Where tests keep the reassembled speech model (145 MB): beside the cached binaries, so
    it is reassembled once per machine, not once per test."""
    base = os.environ.get("MEETBRIDGE_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return (root if os.environ.get("MEETBRIDGE_CACHE") else root / "meetbridge") / "models"


def spoken_pcm(text: str, voice: str = "en-us", words_per_minute: int = 150) -> bytes:
    """``text`` spoken by espeak-ng, as 48 kHz mono 16-bit PCM (resampled by ffmpeg)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "pipe:1"],
        input=wav, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def write_ogg(pcm: bytes, path: Path, leading_silence: float = 0.0) -> None:
    """PCM (48 kHz mono) as Ogg/Opus, the recorder's format, after some silence."""
    silence = bytes(int(leading_silence * SAMPLE_RATE) * 2)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1",
         "-i", "pipe:0", "-c:a", "libopus", "-b:a", "48k", str(path)],
        input=silence + pcm, check=True, timeout=60,
    )  # fmt: skip


def speech_wav(
    sentences: tuple[str, ...], path: Path, voice: str = "en-us", gap: float = 1.0
) -> Path:
    """``sentences`` spoken by espeak-ng, ``gap`` seconds of silence after each, as a 48 kHz
    mono WAV: what Chromium's fake microphone plays (``--use-file-for-fake-audio-capture``),
    in a loop. 48 kHz, the rate WebRTC sends: nothing is resampled on the way."""
    pause = bytes(int(gap * SAMPLE_RATE) * 2)
    pcm = b"".join(spoken_pcm(sentence, voice, 140) + pause for sentence in sentences)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return path


class SpeechSpeaker:
    """Joins with ``token`` (the name in it is the speaker's display name) and publishes a
    microphone, silent until ``speak()``; then it says ``pcm`` once (or what ``speak`` is
    given), in real time, and is silent again (still in the room) until closed. ``said`` is set
    once the speech is out."""

    def __init__(self, url: str, token: str, pcm: bytes) -> None:
        from livekit import rtc

        self._rtc = rtc
        self._url, self._token = url, token
        self._pcm = pcm
        self.room = rtc.Room()
        self._speeches: asyncio.Queue[bytes] = asyncio.Queue()
        self.said = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SpeechSpeaker:
        rtc = self._rtc
        await self.room.connect(self._url, self._token)
        # A second of queue: a test process starved of CPU for a moment must not cut the speech.
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=1000)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        options = rtc.TrackPublishOptions()
        options.source = rtc.TrackSource.SOURCE_MICROPHONE
        await self.room.local_participant.publish_track(track, options)
        self._task = asyncio.create_task(self._play(source))
        return self

    def speak(self, pcm: bytes | None = None) -> None:
        self.said.clear()
        self._speeches.put_nowait(self._pcm if pcm is None else pcm)

    async def _play(self, source: Any) -> None:
        silence = bytes(TEN_MS_BYTES)
        while True:  # capture_frame paces at real time once the source's queue is full
            if self._speeches.empty():
                await self._frame(source, silence)
                continue
            pcm = self._speeches.get_nowait()
            for offset in range(0, len(pcm), TEN_MS_BYTES):
                await self._frame(
                    source, pcm[offset : offset + TEN_MS_BYTES].ljust(TEN_MS_BYTES, b"\0")
                )
            await source.wait_for_playout()  # out of the queue, on its way to the room
            if self._speeches.empty():
                self.said.set()

    async def _frame(self, source: Any, pcm: bytes) -> None:
        await source.capture_frame(self._rtc.AudioFrame(pcm, SAMPLE_RATE, 1, SAMPLE_RATE // 100))

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.room.disconnect()


def words(text: str) -> list[str]:
    """Lower-case words without punctuation ("Hello, world." and "hello world" compare equal)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def sentences_heard(sentences: tuple[str, ...], heard: str, bound: float = 0.25) -> list[str]:
    """The ``sentences`` found in ``heard``: each where some run of its words (the sentence's
    length, give or take two) is within ``bound`` word error rate of it. For speech that was
    cut in at any point (a looping microphone unmuted mid-sentence)."""
    said = words(heard)
    found = []
    for sentence in sentences:
        size = len(words(sentence))
        runs = (
            " ".join(said[start : start + length])
            for length in range(max(1, size - 2), size + 3)
            for start in range(max(1, len(said) - length + 1))
        )
        if any(word_error_rate(sentence, run) <= bound for run in runs):
            found.append(sentence)
    return found


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words of the reference: the word-level edit
    distance, normalised (1.0 for an empty reference with anything said)."""
    said, heard = words(reference), words(hypothesis)
    if not said:
        return 0.0 if not heard else 1.0
    previous = list(range(len(heard) + 1))
    for i, word in enumerate(said, start=1):
        current = [i]
        for j, other in enumerate(heard, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
            )
        previous = current
    return previous[-1] / len(said)
