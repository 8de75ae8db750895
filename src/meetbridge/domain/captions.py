"""Live captions: the rules, free of I/O. Each speaker's audio is cut into utterances by its
loudness (voice activity), and each utterance is captioned: partial lines while it goes on, a
final line once its speaker pauses. What a caption line says to the meeting page is here too.

Loudness is enough to cut utterances: the speech model itself discards what is not speech, and
the noise floor is tracked so that a steady hum does not count as talking.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from meetbridge.domain.recording import rms

CAPTION_RATE = 16000  # the speech model's sample rate
CAPTIONS_TOPIC = "meetbridge.captions"  # the data-message topic of caption lines
NOTICE_TOPIC = "meetbridge.notice"  # the page's notices (web/CONTRACT.md)
MAX_TEXT = 500  # characters of one caption line (a 15 s utterance says far less)
MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How utterances are cut. Seconds, and 16-bit RMS levels."""

    pause: float = 0.5  # this much quiet ends an utterance: its final line follows
    longest: float = 12.0  # an utterance is cut here (a long talk still gets lines)
    shortest: float = 0.25  # less speech than this is a click or a cough
    partial_every: float = 1.5  # a partial line for every this much more speech
    pre_roll: float = 0.2  # kept before the first loud frame (a word's soft start)
    floor: float = 200.0  # never speech below this level
    above_noise: float = 3.0  # speech is this many times the noise floor


class ChunkKind(enum.StrEnum):
    PARTIAL = "partial"
    FINAL = "final"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Audio to caption: the utterance so far (partial) or all of it (final)."""

    kind: ChunkKind
    utterance: int  # counts from 1 per speaker: a final replaces its partials
    pcm: bytes  # 16 kHz mono 16-bit


class Utterances:
    """One speaker's audio in, chunks to caption out. Feed it frames of any length."""

    def __init__(self, settings: VoiceSettings | None = None, rate: int = CAPTION_RATE) -> None:
        self._settings = settings or VoiceSettings()
        self._bytes_per_second = rate * 2
        self._noise = self._settings.floor / 2
        self._pre_roll = bytearray()
        self._speech = bytearray()  # the current utterance, empty between utterances
        self._loud_bytes = 0  # how much of it was loud (clicks are not utterances)
        self._quiet_bytes = 0  # quiet since the last loud frame
        self._partial_at = 0  # utterance length at the last partial
        self._number = 0

    def _seconds(self, size: int) -> float:
        return size / self._bytes_per_second

    def is_loud(self, frame: bytes) -> bool:
        level = rms(frame)
        loud = level >= max(self._settings.floor, self._noise * self._settings.above_noise)
        # The noise floor follows the level: quickly down, slowly up, and very slowly while
        # loud, so that a steady hum stops counting as speech within seconds and talk does not.
        rising = 0.001 if loud else 0.02
        weight = 0.2 if level < self._noise else rising
        self._noise += (level - self._noise) * weight
        return loud

    def feed(self, frame: bytes) -> Iterator[Chunk]:
        settings = self._settings
        loud = self.is_loud(frame)
        if not self._speech:
            if not loud:
                self._pre_roll += frame
                keep = int(settings.pre_roll * self._bytes_per_second) // 2 * 2
                del self._pre_roll[: max(0, len(self._pre_roll) - keep)]
                return
            self._speech += self._pre_roll
            self._pre_roll.clear()
            self._number += 1
        self._speech += frame
        if loud:
            self._loud_bytes += len(frame)
            self._quiet_bytes = 0
        else:
            self._quiet_bytes += len(frame)
        paused = self._seconds(self._quiet_bytes) >= settings.pause
        if paused or self._seconds(len(self._speech)) >= settings.longest:
            yield from self._finish()
        elif self._seconds(len(self._speech) - self._partial_at) >= settings.partial_every:
            self._partial_at = len(self._speech)
            yield Chunk(ChunkKind.PARTIAL, self._number, bytes(self._speech))

    def flush(self) -> Iterator[Chunk]:
        """The speaker left (or the captions stop): what they were saying, as a final line."""
        if self._speech:
            yield from self._finish()

    def _finish(self) -> Iterator[Chunk]:
        # Most of the trailing quiet is dropped: the model may invent words in it.
        keep = len(self._speech) - max(0, self._quiet_bytes - int(0.2 * self._bytes_per_second))
        speech = bytes(self._speech[: keep // 2 * 2])
        enough = self._seconds(self._loud_bytes) >= self._settings.shortest
        self._speech.clear()
        self._loud_bytes = self._quiet_bytes = self._partial_at = 0
        if enough:
            yield Chunk(ChunkKind.FINAL, self._number, speech)


@dataclass(frozen=True, slots=True)
class CaptionLine:
    """One line for the meeting page: who speaks, what they said so far, whether it is final."""

    identity: str  # the speaker's LiveKit identity (one device)
    name: str
    utterance: int
    text: str
    final: bool
    at: int  # ms since the epoch, when the captioner sent it

    def payload(self) -> dict[str, object]:
        return {
            "id": f"{self.identity}#{self.utterance}",
            "identity": self.identity[:MAX_NAME],
            "name": self.name[:MAX_NAME],
            "text": self.text[:MAX_TEXT],
            "final": self.final,
            "at": self.at,
        }


def clean_text(segments: list[str]) -> str:
    """The model's segments as one line (segments start with a space, some are empty)."""
    return " ".join(" ".join(part.split()) for part in segments if part.strip())[:MAX_TEXT]


def sticky_language(current: str | None, detected: str, probability: float) -> str | None:
    """A speaker's language once detected with confidence: later lines skip detection (it costs
    a pass of the model), and a short unclear line cannot flip it."""
    if current is not None:
        return current
    return detected if detected and probability >= 0.8 else None


def interruption_notice(away: float) -> dict[str, object]:
    """The notice the captioner sends the meeting when it is back after ``away`` seconds of
    captions interrupted (its connection lost, or the process not running): what was said
    meanwhile never reached it, so nobody should wait for those lines."""
    return {
        "kind": "captions-interrupted",
        "text": (
            f"Live captions were interrupted for {max(1, round(away))} s; what was said "
            "meanwhile has no captions."
        ),
    }
