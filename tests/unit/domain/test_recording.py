"""The rules of recording: mixing, when to remind and stop, the disk floor, the post's text."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.recording import (
    FRAME_SAMPLES,
    JitterBuffer,
    RecordingLimits,
    Step,
    disk_too_low,
    history_state,
    mix,
    next_step,
    recording_message,
    reminder_text,
    rms,
)


def pcm(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def samples(frame: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(frame) // 2}h", frame))


def test_mixing_adds_the_speakers_sample_by_sample() -> None:
    assert samples(mix([pcm(100, -200, 300), pcm(1, 2, 3)], 3)) == [101, -198, 303]


def test_mixing_clips_at_the_16_bit_range_instead_of_wrapping() -> None:
    assert samples(mix([pcm(30000, -30000), pcm(30000, -30000)], 2)) == [32767, -32768]


def test_mixing_nobody_gives_a_frame_of_silence() -> None:
    assert mix([], FRAME_SAMPLES) == bytes(FRAME_SAMPLES * 2)


def test_mixing_pads_a_short_frame_with_silence_and_cuts_a_long_one() -> None:
    assert samples(mix([pcm(5), pcm(1, 1, 1, 1)], 3)) == [6, 1, 1]


@given(st.lists(st.lists(st.integers(-32768, 32767), min_size=4, max_size=4), max_size=6))
def test_mixing_is_the_clipped_sum_for_any_speakers(tracks: list[list[int]]) -> None:
    mixed = samples(mix([pcm(*track) for track in tracks], 4))
    for index, value in enumerate(mixed):
        expected = sum(track[index] for track in tracks)
        assert value == max(-32768, min(32767, expected))


def test_rms_of_silence_is_zero_and_of_a_square_wave_is_its_amplitude() -> None:
    assert rms(b"") == 0.0
    assert rms(bytes(100)) == 0.0
    assert rms(pcm(1000, -1000) * 50) == 1000.0


LIMITS = RecordingLimits(max_seconds=3600, reminder_seconds=600)


def test_a_recording_continues_until_the_reminder_time() -> None:
    assert next_step(0, LIMITS, reminded=False) is Step.CONTINUE
    assert next_step(2999, LIMITS, reminded=False) is Step.CONTINUE


def test_the_reminder_comes_ten_minutes_before_the_limit_and_only_once() -> None:
    assert next_step(3000, LIMITS, reminded=False) is Step.REMIND
    assert next_step(3000, LIMITS, reminded=True) is Step.CONTINUE
    assert next_step(3599, LIMITS, reminded=True) is Step.CONTINUE


def test_a_recording_stops_at_the_limit_reminded_or_not() -> None:
    assert next_step(3600, LIMITS, reminded=True) is Step.STOP
    assert next_step(4000, LIMITS, reminded=False) is Step.STOP


def test_no_reminder_when_it_is_off_or_longer_than_the_recording() -> None:
    off = RecordingLimits(max_seconds=600, reminder_seconds=0)
    assert next_step(599, off, reminded=False) is Step.CONTINUE
    longer = RecordingLimits(max_seconds=300, reminder_seconds=600)
    assert next_step(10, longer, reminded=False) is Step.CONTINUE
    assert next_step(300, longer, reminded=False) is Step.STOP


def test_the_disk_floor_is_a_strict_minimum() -> None:
    limits = RecordingLimits(min_free_bytes=1000)
    assert disk_too_low(999, limits)
    assert not disk_too_low(1000, limits)


def test_the_post_says_length_and_size_and_when_it_is_incomplete() -> None:
    assert recording_message(65.4, 2_500_000) == "Recording of this meeting (1:05, 2.4 MB)."
    cut = recording_message(3723, 900, "The recorder stopped unexpectedly.")
    assert cut.startswith("Recording of this meeting (1:02:03, 900 B).")
    assert "**Incomplete:** The recorder stopped unexpectedly." in cut


def test_the_reminder_names_the_minutes_left() -> None:
    assert "in 10 minutes" in reminder_text(LIMITS)
    assert "in 1 minute " in reminder_text(RecordingLimits(reminder_seconds=60))


def test_the_jitter_buffer_waits_to_be_primed_then_gives_whole_frames() -> None:
    buffer = JitterBuffer(prime_ms=40, limit_ms=400)
    buffer.add(pcm(*[7] * FRAME_SAMPLES))  # 20 ms: not primed yet
    assert buffer.take() == b""
    buffer.add(pcm(*[8] * FRAME_SAMPLES))
    assert samples(buffer.take()) == [7] * FRAME_SAMPLES
    assert samples(buffer.take()) == [8] * FRAME_SAMPLES
    assert buffer.take() == b""  # dry: primes again before playing


def test_the_jitter_buffer_drops_the_oldest_audio_beyond_its_limit() -> None:
    buffer = JitterBuffer(prime_ms=20, limit_ms=40)
    for value in (1, 2, 3):
        buffer.add(pcm(*[value] * FRAME_SAMPLES))
    assert samples(buffer.take())[0] == 2


def test_the_meeting_history_names_each_recording_s_outcome() -> None:
    assert history_state("recording", incomplete=False, posted=False) == "recording"
    assert history_state("stopping", incomplete=False, posted=False) == "recording"
    assert history_state("failed", incomplete=False, posted=False) == "failed"
    assert history_state("done", incomplete=True, posted=True) == "incomplete"
    assert history_state("done", incomplete=False, posted=True) == "uploaded"
    assert history_state("done", incomplete=False, posted=False) == "uploading"
