"""Meeting recordings: the rules, free of I/O (mixing, limits, disk floor, the post's text)."""

from __future__ import annotations

import enum
import math
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from meetbridge.domain.messages import ENGLISH, Messages

SAMPLE_RATE = 48000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # mono, 16-bit
INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(frozen=True, slots=True)
class RecordingLimits:
    """The admin's settings: the longest recording, when to warn before it, the disk floor."""

    max_seconds: float = 3600.0
    reminder_seconds: float = 600.0
    min_free_bytes: int = 1024**3


class Step(enum.StrEnum):
    CONTINUE = "continue"
    REMIND = "remind"
    STOP = "stop"


def next_step(elapsed: float, limits: RecordingLimits, reminded: bool) -> Step:
    """What a running recording needs now: stopped at the limit, one reminder before it.

    A reminder longer than the recording itself is never sent (nothing to warn about)."""
    if elapsed >= limits.max_seconds:
        return Step.STOP
    remind_at = limits.max_seconds - limits.reminder_seconds
    if not reminded and 0 < remind_at <= elapsed and limits.reminder_seconds > 0:
        return Step.REMIND
    return Step.CONTINUE


def disk_too_low(free_bytes: int, limits: RecordingLimits) -> bool:
    return free_bytes < limits.min_free_bytes


def mix(frames: Sequence[bytes], samples: int = FRAME_SAMPLES) -> bytes:
    """Sum mono 16-bit little-endian PCM frames into one of ``samples`` samples, clipping at the
    int16 range (a short frame counts as silence after its end, a long one is cut)."""
    total = [0] * samples
    for frame in frames:
        pcm = _samples(frame[: samples * 2])
        for index, value in enumerate(pcm):
            total[index] += value
    mixed = array("h", (min(INT16_MAX, max(INT16_MIN, value)) for value in total))
    if sys.byteorder == "big":
        mixed.byteswap()
    return mixed.tobytes()


def rms(pcm: bytes) -> float:
    """Root mean square of mono 16-bit little-endian PCM, 0..32768 (0 for no samples)."""
    values = _samples(pcm)
    if not values:
        return 0.0
    return math.sqrt(sum(value * value for value in values) / len(values))


def _samples(pcm: bytes) -> array[int]:
    values = array("h")
    values.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        values.byteswap()
    return values


def describe_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024**2:.1f} MB"


def describe_length(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def recording_message(
    seconds: float, size: int, incomplete_reason: str = "", texts: Messages = ENGLISH
) -> str:
    """The text of the post that carries the recording file (``incomplete_reason``: already in
    the post's language)."""
    length, shown_size = describe_length(seconds), describe_size(size)
    text = texts("recording.posted", length=length, size=shown_size)
    if incomplete_reason:
        text += "\n" + texts("thread.incomplete", reason=incomplete_reason)
    return text


def history_state(state: str, incomplete: bool, posted: bool) -> str:
    """How the admin console's meeting history describes a recording."""
    if state in ("recording", "stopping"):
        return "recording"
    if state == "failed":
        return "failed"
    if incomplete:
        return "incomplete"
    return "uploaded" if posted else "uploading"


def reminder_text(limits: RecordingLimits) -> str:
    minutes = max(1, round(limits.reminder_seconds / 60))
    return (
        f"The recording stops in {minutes} minute{'' if minutes == 1 else 's'} "
        "(the longest a recording may last). Start a new one after it if you need to."
    )


class JitterBuffer:
    """One speaker's received audio, waiting to be mixed.

    Frames arrive in bursts and not in step with the mixer's 20 ms ticks: a track is mixed only
    once ``prime`` worth is buffered (and again after it ran dry), so a late packet does not cut
    a frame in two; more than ``limit`` buffered drops the oldest, so a speaker never lags.

    The mixer keeps wall-clock time, so a recorder starved of CPU for a moment catches up by
    taking frames faster than they come: the prime is what it takes from meanwhile. A recording
    is not live, so a generous prime costs nothing and keeps speech whole on a loaded host (with
    60 ms, words went missing under load and a transcript's error rate doubled)."""

    def __init__(self, prime_ms: int = 400, limit_ms: int = 1500) -> None:
        self._pcm = bytearray()
        self._prime = prime_ms * SAMPLE_RATE // 1000 * 2
        self._limit = limit_ms * SAMPLE_RATE // 1000 * 2
        self._primed = False

    def add(self, pcm: bytes) -> None:
        self._pcm += pcm
        if len(self._pcm) > self._limit:
            del self._pcm[: len(self._pcm) - self._limit]

    def take(self, samples: int = FRAME_SAMPLES) -> bytes:
        """The next frame, or b"" (silence) while priming or dry."""
        size = samples * 2
        if not self._primed and len(self._pcm) >= self._prime:
            self._primed = True
        if not self._primed:
            return b""
        frame = bytes(self._pcm[:size])
        del self._pcm[:size]
        if len(frame) < size:
            self._primed = False
        return frame
