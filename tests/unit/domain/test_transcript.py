"""The rules of transcripts: the recorder's manifest read defensively, each speaker's lines
placed at their track's offset and merged by time, WebVTT with voice tags, plain text, the
post's text."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.messages import Messages
from meetbridge.domain.transcript import (
    Line,
    SpeakerTrack,
    merge,
    parse_manifest,
    shift,
    timestamp,
    to_text,
    to_vtt,
    transcript_from,
    transcript_message,
    user_id_of_identity,
)

ALICE_ID = "a" * 26
ALICE = SpeakerTrack("1.ogg", f"{ALICE_ID}.d1", ALICE_ID, "Alice Archer", 0.0)
BOB = SpeakerTrack("2.ogg", "b" * 26 + ".d2", "b" * 26, "Bob Baker", 4.5)


def test_a_speakers_segments_are_placed_at_the_tracks_offset_with_the_speakers_name() -> None:
    lines = shift([(0.5, 2.0, " Hello there. "), (3.0, 2.5, "x"), (4.0, 5.0, "   ")], BOB)
    assert lines == [
        Line(5.0, 6.5, "Bob Baker", "Hello there."),
        Line(7.5, 7.5, "Bob Baker", "x"),  # an end before the start is clamped; blanks dropped
    ]


def test_lines_of_several_speakers_are_merged_in_the_order_they_were_said() -> None:
    alice = shift([(0.0, 2.0, "one"), (6.0, 7.0, "three")], ALICE)
    bob = shift([(0.5, 1.0, "two")], BOB)  # at 5.0 in the recording
    merged = merge([alice, bob])
    assert [line.text for line in merged] == ["one", "two", "three"]
    assert [line.speaker for line in merged] == ["Alice Archer", "Bob Baker", "Alice Archer"]


@given(st.lists(st.floats(0, 10_000, allow_nan=False), max_size=30))
def test_merged_lines_never_go_back_in_time(starts: list[float]) -> None:
    lines = [Line(start, start + 1, f"s{i % 3}", "w") for i, start in enumerate(starts)]
    merged = merge([lines[0::2], lines[1::2]])
    assert len(merged) == len(lines)
    assert all(a.start <= b.start for a, b in itertools.pairwise(merged))


def test_timestamps_are_webvtt_hours_minutes_seconds_and_milliseconds() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3723.4567) == "01:02:03.457"
    assert timestamp(-1) == "00:00:00.000"


def test_webvtt_has_a_header_and_one_cue_per_line_with_the_speaker_as_voice_tag() -> None:
    vtt = to_vtt([Line(1.0, 2.5, "Alice Archer", "Hello."), Line(3.0, 4.0, "Bob", "Hi.")])
    assert vtt == (
        "WEBVTT\n\n"
        "1\n00:00:01.000 --> 00:00:02.500\n<v Alice Archer>Hello.\n\n"
        "2\n00:00:03.000 --> 00:00:04.000\n<v Bob>Hi.\n"
    )


def test_webvtt_escapes_markup_in_names_and_words() -> None:
    vtt = to_vtt([Line(0, 1, "Eve <b>&", "a --> b <i>x</i> & y")])
    cue = vtt.splitlines()[-1]
    assert cue == "<v Eve &lt;b&gt;&amp;>a --&gt; b &lt;i&gt;x&lt;/i&gt; &amp; y"
    assert "-->" not in cue


def test_plain_text_has_a_time_and_the_speaker_on_each_line() -> None:
    text = to_text([Line(65.2, 70, "Alice Archer", "Hello."), Line(3700, 3701, "Bob", "Bye.")])
    assert text == "[1:05] Alice Archer: Hello.\n[1:01:40] Bob: Bye.\n"


def test_the_manifest_gives_name_user_and_offset_of_each_track() -> None:
    tracks = parse_manifest(
        [
            {"file": "1.ogg", "identity": f"{ALICE_ID}.d1", "name": "Alice Archer", "start": 0},
            {"file": "2.ogg", "identity": "guest-7", "name": "Gus", "start": 4.5, "end": 9.0},
        ]
    )
    assert tracks == [
        SpeakerTrack("1.ogg", f"{ALICE_ID}.d1", ALICE_ID, "Alice Archer", 0.0, None),
        SpeakerTrack("2.ogg", "guest-7", "", "Gus", 4.5, 9.0),
    ]


def test_malformed_manifest_entries_are_left_out_and_never_escape_the_directory() -> None:
    good = {"file": "3.ogg", "identity": "x", "name": "Ok", "start": 1}
    hostile: list[object] = [
        {"file": "../../etc/passwd", "name": "x", "start": 0},
        {"file": "/tmp/1.ogg", "start": 0},
        {"file": "1.ogg", "start": -1},
        {"file": "1.ogg", "start": float("nan")},
        {"file": "1.ogg", "start": float("inf")},
        {"file": "1.ogg", "start": True},
        {"file": "1.ogg", "start": "0"},
        {"file": "1.ogg", "start": 5, "end": 4},
        {"file": 1, "start": 0},
        "1.ogg",
        None,
    ]
    assert [t.file for t in parse_manifest([*hostile, good])] == ["3.ogg"]
    assert parse_manifest({"file": "1.ogg"}) == []
    assert parse_manifest(None) == []


def test_a_speakers_name_is_one_line_without_control_characters_and_bounded() -> None:
    [track] = parse_manifest(
        [{"file": "1.ogg", "identity": "x", "name": "Mal\nlory\x00\u202e" + "z" * 200, "start": 0}]
    )
    assert "\n" not in track.name and "\x00" not in track.name and "\u202e" not in track.name
    assert track.name.startswith("Mal lory")
    assert len(track.name) == 64
    [nameless] = parse_manifest([{"file": "1.ogg", "start": 0, "name": " \t "}])
    assert nameless.name == "Unknown speaker"


def test_the_user_behind_an_identity_is_a_mattermost_id_or_nothing() -> None:
    assert user_id_of_identity(f"{ALICE_ID}.0a1b2c3d") == ALICE_ID
    assert user_id_of_identity("guest.1234") == ""
    assert user_id_of_identity("A" * 26 + ".x") == ""
    assert user_id_of_identity("") == ""


def test_the_post_names_the_speakers_without_markdown_and_says_when_incomplete() -> None:
    lines = [Line(0, 1, "Bob Baker", "x"), Line(1, 2, "**Eve** @all", "y")]
    message = transcript_message(lines, incomplete=True)
    assert message.startswith("Transcript of this meeting's recording (")
    assert "Bob Baker" in message
    assert "**Eve**" not in message and "@all" not in message
    assert "**Incomplete:**" in message
    assert "no speech" in transcript_message([], incomplete=False)
    assert "Incomplete" not in transcript_message(lines, incomplete=False)


CAROL = SpeakerTrack("3.ogg", "c" * 26 + ".d3", "c" * 26, "Carol *Cole*", 9.0)


def test_a_track_that_could_not_be_read_costs_its_speakers_lines_only_and_is_named() -> None:
    results: list[dict[str, Any]] = [
        {"file": "1.ogg", "segments": [[0.5, 1.5, " Hello."]]},
        {"file": "2.ogg", "unreadable": "InvalidDataError: Invalid data found"},
        {"file": "3.ogg", "unreadable": "EOFError: End of file"},
        {"file": "9.ogg", "segments": [[0.0, 1.0, "not listed"]]},  # not in the manifest
    ]
    transcript = transcript_from([ALICE, BOB, CAROL], results)
    assert transcript.lines == [Line(0.5, 1.5, "Alice Archer", "Hello.")]
    assert transcript.unreadable == ["Bob Baker", "Carol *Cole*"]
    assert transcript.readable == 1


def test_the_post_says_whose_audio_could_not_be_read_in_the_readers_language() -> None:
    lines = [Line(0, 1, "Alice Archer", "Hello.")]
    unreadable = ["Bob Baker", "Carol *Cole*"]
    assert transcript_message(lines, False, unreadable=unreadable, readable=1) == (
        "Transcript of this meeting's recording (Alice Archer).\n"
        "The audio of Bob Baker, Carol \\*Cole\\* could not be read: their words are missing "
        "from this transcript."
    )
    assert transcript_message(lines, False, Messages("de"), unreadable, readable=1) == (
        "Transkript der Aufnahme dieser Besprechung (Alice Archer).\n"
        "Der Ton von Bob Baker, Carol \\*Cole\\* konnte nicht gelesen werden; was sie gesagt "
        "haben, fehlt in diesem Transkript."
    )
    # Nothing readable: not "no speech was recognised", which would be wrong.
    assert transcript_message([], False, unreadable=["Bob Baker"], readable=0) == (
        "No transcript of this meeting's recording: the audio of Bob Baker could not be read."
    )
    assert transcript_message([], False, Messages("de"), ["Bob Baker"], readable=0) == (
        "Kein Transkript der Aufnahme dieser Besprechung: Der Ton von Bob Baker konnte nicht "
        "gelesen werden."
    )
    # Some tracks read, none with speech, one unreadable: both said.
    both = transcript_message([], True, unreadable=["Bob Baker"], readable=1)
    assert both.startswith("Transcript of this meeting's recording: no speech was recognised.\n")
    assert "The audio of Bob Baker could not be read" in both and "**Incomplete:**" in both
