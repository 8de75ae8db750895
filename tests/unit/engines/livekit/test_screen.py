"""Fitting screen-share frames onto the recording's canvas, and the files finalising reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbridge.engines.livekit.screen import (
    BLACK_Y,
    FRAME_BYTES,
    HEIGHT,
    WIDTH,
    Canvas,
    ScreenStart,
    _concat_list,
)

pytest.importorskip("numpy")


def i420(width: int, height: int, luma: int) -> bytes:
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    return bytes([luma]) * (width * height) + bytes([128]) * (2 * chroma)


def luma_row(frame: bytes, row: int) -> bytes:
    return frame[row * WIDTH : (row + 1) * WIDTH]


def test_a_share_of_the_canvas_shape_fills_it_whatever_its_size() -> None:
    canvas = Canvas()
    for width, height in ((640, 360), (1920, 1080), (1280, 720)):
        fitted = canvas.fit(i420(width, height, 200), width, height)
        assert len(fitted) == FRAME_BYTES
        assert set(fitted[: WIDTH * HEIGHT]) == {200}


def test_a_square_share_is_centred_between_black_bars() -> None:
    fitted = Canvas().fit(i420(999, 999, 200), 999, 999)  # odd sizes too
    middle = luma_row(fitted, HEIGHT // 2)
    assert middle[:280] == bytes([BLACK_Y]) * 280 and middle[-280:] == bytes([BLACK_Y]) * 280
    assert set(middle[282 : WIDTH - 282]) == {200}
    assert len(fitted) == FRAME_BYTES


@pytest.mark.parametrize("size", [(640, 360, 100), (0, 0, 0), (-4, 2, 10)])
def test_a_frame_shorter_than_its_size_says_is_black_not_an_error(
    size: tuple[int, int, int],
) -> None:
    width, height, length = size
    fitted = Canvas().fit(bytes(length), width, height)
    assert fitted[: WIDTH * HEIGHT] == bytes([BLACK_Y]) * (WIDTH * HEIGHT)


def test_a_damaged_start_file_means_no_screen(tmp_path: Path) -> None:
    path = tmp_path / "screen.webm.json"
    for content in (b"", b"{", b'{"start": "x"}', b'{"start": -1}', b"[]", b'{"start": 1e9}'):
        path.write_bytes(content)
        assert ScreenStart.load(path) is None
    ScreenStart(12.4).save(path)
    assert ScreenStart.load(path) == ScreenStart(12.4)


def test_the_concat_list_quotes_paths_and_ends_the_lead_in_where_the_share_began(
    tmp_path: Path,
) -> None:
    lead, live = tmp_path / "it's.lead.webm", tmp_path / "live.webm"
    text = _concat_list([lead, live], 12.3456)
    directory = str(tmp_path.resolve())
    assert text.splitlines() == [
        "ffconcat version 1.0",
        "file '" + directory + "/it'\\''s.lead.webm'",  # ffconcat's quoting of a quote
        "duration 12.346",
        f"file '{live.resolve()}'",
    ]
