"""Transcripts of recordings: the rules, free of I/O.

The recorder keeps each participant's track in a file of its own (listed in a manifest with who
spoke and where the track starts in the recording); each track is transcribed on its own, so a
line's speaker is known, not guessed, and the lines are then merged by time."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from meetbridge.domain.markdown import escape_markdown
from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.domain.recording import describe_length

MANIFEST = "manifest.json"
MATTERMOST_ID = re.compile(r"[a-z0-9]{26}")
MAX_NAME = 64  # characters of a speaker's name kept in a transcript
_TRACK_FILE = re.compile(r"[0-9]{1,6}\.ogg")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SpeakerTrack:
    """One participant's audio track: its file in the speakers directory, who spoke on it, and
    when it starts (and ends, once known) in seconds from the start of the recording."""

    file: str
    identity: str
    user_id: str
    name: str
    start: float
    end: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "identity": self.identity,
            "user_id": self.user_id,
            "name": self.name,
            "start": self.start,
            "end": self.end,
        }


def user_id_of_identity(identity: str) -> str:
    """The Mattermost user behind a LiveKit identity (``<user id>.<device>``), or ""."""
    user_id = identity.split(".", 1)[0]
    return user_id if MATTERMOST_ID.fullmatch(user_id) else ""


def parse_manifest(data: object) -> list[SpeakerTrack]:
    """The tracks a manifest lists; entries that are not well-formed are left out (the file is
    ours, but a truncated or edited one must not stop the transcript)."""
    if not isinstance(data, list):
        return []
    return [track for entry in data if (track := _track(entry)) is not None]


def _track(entry: object) -> SpeakerTrack | None:
    if not isinstance(entry, dict):
        return None
    file, start, end = entry.get("file"), _seconds(entry.get("start")), entry.get("end")
    if not isinstance(file, str) or not _TRACK_FILE.fullmatch(file):
        return None  # only names the recorder gives: no path out of the directory
    if start is None or not (end is None or ((end := _seconds(end)) is not None and end >= start)):
        return None
    identity = entry.get("identity")
    identity = identity if isinstance(identity, str) else ""
    name = entry.get("name")
    return SpeakerTrack(
        file=file,
        identity=identity,
        user_id=user_id_of_identity(identity),
        name=clean_name(name if isinstance(name, str) else "") or "Unknown speaker",
        start=start,
        end=end,
    )


def _seconds(value: object) -> float | None:
    """A finite, non-negative number of seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if 0 <= seconds < float("inf") else None


def clean_name(name: str) -> str:
    """A speaker's name on one line, without control characters, of bounded length."""
    visible = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in name)
    return _SPACES.sub(" ", visible).strip()[:MAX_NAME]


@dataclass(frozen=True, slots=True)
class Line:
    """One recognised stretch of speech, in seconds from the start of the recording."""

    start: float
    end: float
    speaker: str
    text: str


def shift(segments: Iterable[tuple[float, float, str]], track: SpeakerTrack) -> list[Line]:
    """A track's segments (times within the track) placed in the recording, with the speaker."""
    lines = []
    for start, end, text in segments:
        words = _SPACES.sub(" ", text).strip()
        if words:
            lines.append(
                Line(track.start + start, track.start + max(start, end), track.name, words)
            )
    return lines


@dataclass(frozen=True, slots=True)
class Transcript:
    """Every readable track's lines, merged; and who spoke on a track that could not be read
    (a broken file costs that speaker's lines, not everyone's)."""

    lines: list[Line]
    unreadable: list[str]  # speakers' names, sorted, once each
    readable: int  # tracks that could be read


def transcript_from(
    tracks: Sequence[SpeakerTrack], results: Iterable[dict[str, Any]]
) -> Transcript:
    """The worker's results (per file: ``segments`` within the track, or ``unreadable``) placed
    with the manifest's ``tracks``; a result for a file the manifest does not list is ignored."""
    by_file = {track.file: track for track in tracks}
    placed, unreadable, readable = [], set(), 0
    for result in results:
        track = by_file.get(str(result.get("file")))
        if track is None:
            continue
        if result.get("unreadable"):
            unreadable.add(track.name)
            continue
        readable += 1
        segments = [(float(s), float(e), str(text)) for s, e, text in result.get("segments", [])]
        placed.append(shift(segments, track))
    return Transcript(merge(placed), sorted(unreadable), readable)


def merge(tracks: Iterable[Sequence[Line]]) -> list[Line]:
    """Every speaker's lines in the order they were said (by start, then end, then speaker)."""
    return sorted(
        (line for lines in tracks for line in lines),
        key=lambda line: (line.start, line.end, line.speaker),
    )


def timestamp(seconds: float) -> str:
    """WebVTT's ``hh:mm:ss.ttt``."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _vtt_escape(text: str) -> str:
    # Cue text is markup: a name or words with < or & would otherwise open tags or entities,
    # and "-->" would end a cue timing.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(lines: Sequence[Line]) -> str:
    """WebVTT with each cue's speaker as a voice tag (``<v Name>``)."""
    cues = ["WEBVTT", ""]
    for number, line in enumerate(lines, start=1):
        cues += [
            str(number),
            f"{timestamp(line.start)} --> {timestamp(line.end)}",
            f"<v {_vtt_escape(line.speaker)}>{_vtt_escape(line.text)}",
            "",
        ]
    return "\n".join(cues)


def to_text(lines: Sequence[Line]) -> str:
    """Plain text: ``[m:ss] Name: words`` a line."""
    return "".join(
        f"[{describe_length(line.start)}] {line.speaker}: {line.text}\n" for line in lines
    )


def transcript_message(
    lines: Sequence[Line],
    incomplete: bool,
    texts: Messages = ENGLISH,
    unreadable: Sequence[str] = (),
    readable: int = 1,
) -> str:
    """The post that carries the transcript files; it names whose audio could not be read."""
    if unreadable and not readable:
        text = texts("transcript.none_readable", speakers=_names(unreadable, texts))
    else:
        text = texts("transcript.no_speech")
        if lines:
            speakers = sorted({line.speaker for line in lines})
            text = texts("transcript.posted", speakers=_names(speakers, texts))
        if unreadable:
            text += "\n" + texts("transcript.unreadable", speakers=_names(unreadable, texts))
    if incomplete:
        text += "\n" + texts("thread.incomplete", reason=texts("transcript.incomplete"))
    return text


def _names(speakers: Sequence[str], texts: Messages) -> str:
    """Up to five names, as plain text in Markdown, then how many more."""
    who = ", ".join(escape_markdown(name) for name in speakers[:5])
    if len(speakers) > 5:
        who = texts("transcript.more_speakers", names=who, count=len(speakers) - 5)
    return who
