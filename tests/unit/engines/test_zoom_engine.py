"""Zoom's card Join button names a meeting row: anything but a plain number is no meeting."""

from __future__ import annotations

from typing import Any

import pytest

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom.engine import JOIN, ZoomEngine


class NoMeetings:
    def __init__(self) -> None:
        self.asked: list[int] = []

    async def meeting(self, row_id: int) -> None:
        self.asked.append(row_id)


@pytest.mark.parametrize("target", ["²", "١٢", "-1", "", "9" * 19])
async def test_a_join_click_on_something_other_than_a_row_number_is_an_ended_meeting(
    target: str,
) -> None:
    zoom = NoMeetings()
    service: Any = zoom
    engine = ZoomEngine(service, join=None)  # type: ignore[arg-type]
    answer = await engine.clicked(JOIN, target, ChannelId("c" * 26), UserId("u" * 26))
    assert answer.text == "This Zoom meeting has ended." and not answer.goto
    assert zoom.asked == []


async def test_a_join_click_on_a_row_number_looks_the_meeting_up() -> None:
    zoom = NoMeetings()
    service: Any = zoom
    engine = ZoomEngine(service, join=None)  # type: ignore[arg-type]
    await engine.clicked(JOIN, "42", ChannelId("c" * 26), UserId("u" * 26))
    assert zoom.asked == [42]
