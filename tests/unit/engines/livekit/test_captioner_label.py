"""A restarted meetbridge finds its captioners by their command lines: only a captioner's own
label (its room's channel and its identity) is taken; anything else in /proc is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit.captions import (
    CAPTIONER_MODULE,
    LABEL,
    LocalCaptioner,
    captioner_label,
    local_captioners,
)

CHANNEL = "a" * 26
IDENTITY = "meetbridge-captioner-0123abcd"


def argv(*words: str) -> list[bytes]:
    return [word.encode() for word in ("/usr/bin/python3", "-m", *words)] + [b""]


def test_a_captioner_s_command_line_names_its_room_and_identity() -> None:
    assert captioner_label(argv(CAPTIONER_MODULE, LABEL, CHANNEL, IDENTITY)) == (
        CHANNEL,
        IDENTITY,
    )


@pytest.mark.parametrize(
    "words",
    [
        ("meetbridge.engines.livekit.recorder", LABEL, CHANNEL, IDENTITY),  # not a captioner
        (CAPTIONER_MODULE,),  # an unlabelled one (started by an older meetbridge)
        (CAPTIONER_MODULE, LABEL, CHANNEL),  # cut short
        (CAPTIONER_MODULE, LABEL, "../../etc", IDENTITY),  # not a channel id
        (CAPTIONER_MODULE, LABEL, CHANNEL, "alice"),  # not a captioner's identity
        (CAPTIONER_MODULE, LABEL, "\udcff" * 26, IDENTITY),
        ("grep", CAPTIONER_MODULE, LABEL, CHANNEL + "x", IDENTITY),
    ],
)
def test_anything_else_is_not_taken_for_a_captioner(words: tuple[str, ...]) -> None:
    raw = [w.encode(errors="surrogateescape") for w in ("/usr/bin/python3", "-m", *words)]
    assert captioner_label(raw) is None


def test_local_captioners_reads_every_process_and_skips_the_unreadable(tmp_path: Path) -> None:
    for pid, words in ((101, argv(CAPTIONER_MODULE, LABEL, CHANNEL, IDENTITY)), (102, argv("x"))):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(words))
    (tmp_path / "103").mkdir()  # ended while being read: no cmdline
    (tmp_path / "self").mkdir()
    assert local_captioners(tmp_path) == [LocalCaptioner(101, ChannelId(CHANNEL), IDENTITY)]
