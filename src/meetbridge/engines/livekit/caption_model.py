"""The speech model of a captioner (engines/livekit/captioner.py): each speaker's utterances in,
caption text out, one chunk at a time, final lines first.

Only the model runs at a lower priority: its thread, and the threads the model starts from it
(on Linux a nice value is a thread's). The rest of the captioner, its connection to LiveKit
above all, keeps the service's priority: at a low priority on a busy host it could not answer
the server's pings in time and lost the connection (ConnectionTimeout, "resuming connection").
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from meetbridge.domain.captions import (
    CAPTION_RATE,
    Chunk,
    ChunkKind,
    Utterances,
    clean_text,
    sticky_language,
)
from meetbridge.transcription.model import resolve

NICENESS = 10  # the model's threads: below the service, which shares the host's cores
NO_SPEECH = 0.6  # a segment the model itself thinks is not speech is not captioned
FRESH = 1.0  # seconds a partial line is worth making: an older one is dropped (the model is behind)


class ModelChoice(Protocol):
    """Which model, from where, with how many threads, in which language (a captioner's job)."""

    @property
    def cache(self) -> Path: ...
    @property
    def model(self) -> Path | None: ...
    @property
    def model_sha256(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def threads(self) -> int: ...


@dataclass(slots=True)
class Speaker:
    identity: str
    name: str
    utterances: Utterances
    language: str | None = None


def _lower_priority() -> None:
    """This thread (Linux: a nice value is a thread's) and those it starts, below the rest."""
    thread = threading.get_native_id()
    os.setpriority(
        os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS)
    )


def _load_model(job: ModelChoice) -> Any:
    from faster_whisper import WhisperModel  # the `transcription` extra

    directory = resolve(job.model, job.model_sha256, job.cache)
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=job.threads)


class Transcriber:
    """The speech model, one chunk at a time in a thread of its own (CTranslate2 uses the
    cores itself). Finals first; a speaker's partial waits only until a newer one replaces it,
    and is dropped once stale: when the model falls behind, only final lines are made."""

    def __init__(self, job: ModelChoice) -> None:
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="captions", initializer=_lower_priority
        )
        # Loaded in that thread: the model's own threads start from it, at its priority.
        self._model = self._thread.submit(_load_model, job).result()
        self._fixed_language = job.language
        self._finals: deque[tuple[Speaker, Chunk]] = deque()
        self._partials: dict[str, tuple[Speaker, Chunk, float]] = {}
        self._work = asyncio.Event()
        self.busy_seconds = 0.0
        self.audio_seconds = 0.0

    def submit(self, speaker: Speaker, chunk: Chunk) -> None:
        if chunk.kind is ChunkKind.FINAL:
            self._partials.pop(speaker.identity, None)  # the final says it all
            self._finals.append((speaker, chunk))
        else:
            self._partials[speaker.identity] = (speaker, chunk, time.monotonic())
        self._work.set()

    async def next(self) -> tuple[Speaker, Chunk]:
        while True:
            if self._finals:
                return self._finals.popleft()
            stale = time.monotonic() - FRESH
            for identity, (speaker, chunk, queued) in list(self._partials.items()):
                del self._partials[identity]
                if queued >= stale:
                    return speaker, chunk
            self._work.clear()
            await self._work.wait()

    async def text(self, speaker: Speaker, chunk: Chunk) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transcribe, speaker, chunk)

    def _transcribe(self, speaker: Speaker, chunk: Chunk) -> str:
        import numpy as np

        started = time.monotonic()
        audio = np.frombuffer(chunk.pcm, dtype="<i2").astype(np.float32) / 32768.0
        segments, info = self._model.transcribe(
            audio,
            language=self._fixed_language or speaker.language,
            # The model's encoder pass costs the same for any chunk (Whisper pads to 30 s):
            # the wider search, which costs little on a short line, is worth it for finals.
            beam_size=5 if chunk.kind is ChunkKind.FINAL else 1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        kept = [s.text for s in segments if s.no_speech_prob < NO_SPEECH]
        if chunk.kind is ChunkKind.FINAL and self._fixed_language is None:
            speaker.language = sticky_language(
                speaker.language, info.language, info.language_probability
            )
        self.busy_seconds += time.monotonic() - started
        self.audio_seconds += len(chunk.pcm) / (2 * CAPTION_RATE)
        return clean_text(kept)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
