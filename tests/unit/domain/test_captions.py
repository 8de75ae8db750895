"""Cutting a speaker's audio into utterances for captions, and the caption line's payload."""

from __future__ import annotations

import math
from array import array

from meetbridge.domain.captions import (
    CAPTION_RATE,
    MAX_TEXT,
    CaptionLine,
    Chunk,
    ChunkKind,
    Utterances,
    VoiceSettings,
    clean_text,
    interruption_notice,
    sticky_language,
)
from meetbridge.engines.livekit.captioner import names_captioner

FRAME = CAPTION_RATE // 50  # 20 ms


def tone(seconds: float, level: float = 6000.0) -> list[bytes]:
    """A 440 Hz tone in 20 ms frames (loud enough to be speech by loudness)."""
    frames = []
    for start in range(0, int(seconds * CAPTION_RATE), FRAME):
        samples = array(
            "h",
            (
                int(level * math.sin(2 * math.pi * 440 * (start + i) / CAPTION_RATE))
                for i in range(FRAME)
            ),
        )
        frames.append(samples.tobytes())
    return frames


def quiet(seconds: float, level: int = 0) -> list[bytes]:
    return [array("h", [level, -level] * (FRAME // 2)).tobytes()] * int(seconds * 50)


def run(frames: list[bytes], settings: VoiceSettings | None = None) -> list[Chunk]:
    utterances = Utterances(settings)
    return [chunk for frame in frames for chunk in utterances.feed(frame)]


def seconds(chunk: Chunk) -> float:
    return len(chunk.pcm) / (2 * CAPTION_RATE)


def test_an_utterance_ends_with_a_pause_as_one_final_chunk_with_a_little_before_and_after() -> None:
    chunks = run(quiet(1.0) + tone(1.0) + quiet(1.0))
    assert {c.utterance for c in chunks} == {1}
    [final] = [c for c in chunks if c.kind is ChunkKind.FINAL]
    assert chunks[-1] is final
    # 0.2 s before the first loud frame, the speech, at most 0.2 s of the pause after it
    assert 1.3 <= seconds(final) <= 1.45, seconds(final)


def test_partial_chunks_come_while_someone_talks_each_longer_than_the_last() -> None:
    chunks = run(tone(4.0) + quiet(1.0))
    partials = [c for c in chunks if c.kind is ChunkKind.PARTIAL]
    assert len(partials) == 2  # at 1.5 s and 3 s of speech
    assert seconds(partials[0]) < seconds(partials[1])
    assert chunks[-1].kind is ChunkKind.FINAL
    assert {c.utterance for c in chunks} == {1}


def test_each_utterance_has_its_own_number() -> None:
    chunks = run(tone(0.6) + quiet(1.0) + tone(0.6) + quiet(1.0))
    assert [(c.kind, c.utterance) for c in chunks] == [
        (ChunkKind.FINAL, 1),
        (ChunkKind.FINAL, 2),
    ]


def test_a_long_talk_is_cut_so_that_lines_keep_coming() -> None:
    chunks = run(tone(5.0), VoiceSettings(longest=2.0, partial_every=10.0))
    finals = [c for c in chunks if c.kind is ChunkKind.FINAL]
    assert len(finals) == 2 and all(1.9 <= seconds(c) <= 2.1 for c in finals)


def test_a_click_is_not_an_utterance_and_silence_gives_nothing() -> None:
    assert run(quiet(2.0) + tone(0.1) + quiet(2.0)) == []
    assert run(quiet(5.0)) == []


def test_a_steady_hum_stops_counting_as_speech_and_speech_still_stands_out() -> None:
    utterances = Utterances()
    for frame in quiet(5.0, level=600):  # above the absolute floor, but constant
        list(utterances.feed(frame))
    later = quiet(3.0, level=600) + tone(1.0, level=8000) + quiet(2.0, level=600)
    chunks = [chunk for frame in later for chunk in utterances.feed(frame)]
    assert len({c.utterance for c in chunks}) == 1  # the tone, not the hum
    assert chunks[-1].kind is ChunkKind.FINAL
    assert 1.0 <= seconds(chunks[-1]) <= 1.5, seconds(chunks[-1])


def test_what_a_speaker_was_saying_when_they_left_is_flushed_as_final() -> None:
    utterances = Utterances()
    for frame in tone(1.0):
        list(utterances.feed(frame))
    [final] = list(utterances.flush())
    assert final.kind is ChunkKind.FINAL
    assert list(utterances.flush()) == []


def test_odd_frame_sizes_are_fine() -> None:
    utterances = Utterances()
    audio = b"".join(quiet(0.5) + tone(1.0) + quiet(1.0))
    chunks = [c for i in range(0, len(audio), 1234) for c in utterances.feed(audio[i : i + 1234])]
    assert [c.kind for c in chunks][-1] is ChunkKind.FINAL
    assert all(len(c.pcm) % 2 == 0 for c in chunks)


def test_a_caption_line_says_who_and_what_and_is_bounded() -> None:
    line = CaptionLine("alice.1a2b", "Alice <b>", 3, "x" * (MAX_TEXT + 50), True, 1700)
    payload = line.payload()
    assert payload["id"] == "alice.1a2b#3"
    assert payload["name"] == "Alice <b>"  # the page renders it as text
    assert len(str(payload["text"])) == MAX_TEXT
    assert payload["final"] is True and payload["at"] == 1700


def test_the_models_segments_become_one_clean_line() -> None:
    assert clean_text([" Hello", "", "  world.  ", " "]) == "Hello world."
    assert clean_text([]) == ""


def test_a_language_sticks_once_detected_with_confidence() -> None:
    assert sticky_language(None, "en", 0.5) is None
    assert sticky_language(None, "en", 0.95) == "en"
    assert sticky_language("en", "de", 0.99) == "en"


def test_the_captioner_runs_only_while_the_rooms_metadata_names_it() -> None:
    assert names_captioner('{"captions": 1, "captioner": "c-1"}', "c-1")
    assert not names_captioner('{"captions": 1, "captioner": "c-2"}', "c-1")
    for hostile in ("", "not json", "[]", '{"captioner": 7}', '"c-1"'):
        assert not names_captioner(hostile, "c-1")


def test_the_meeting_is_told_for_how_long_captions_were_interrupted() -> None:
    assert interruption_notice(23.4) == {
        "kind": "captions-interrupted",
        "text": "Live captions were interrupted for 23 s; what was said meanwhile has no captions.",
    }
    assert "for 1 s;" in str(interruption_notice(0.2)["text"])
