from __future__ import annotations

import pytest

from meetbridge.domain.call_stats import CallStats, describe_stats, parse_stats

GOOD = {"sendKbps": 512, "receiveKbps": 1024.5, "packetLossPercent": 0.5, "rttMs": 42}


def test_a_page_report_reads_as_the_callers_last_session() -> None:
    stats = parse_stats(GOOD, now=100.0)
    assert stats == CallStats(512.0, 1024.5, 0.5, 42.0, at=100.0)
    assert describe_stats(stats, now=160.0) == (
        "Your last LiveKit session, as your browser measured it (WebRTC statistics, reported "
        "1 minute ago): sending 512 kbit/s, receiving 1,024 kbit/s, packet loss 0.5 %, "
        "round-trip time 42 ms."
    )


@pytest.mark.parametrize(
    "change",
    [
        {"rttMs": -1},
        {"packetLossPercent": 101},
        {"sendKbps": float("nan")},
        {"receiveKbps": float("inf")},
        {"rttMs": "42"},
        {"rttMs": True},
        {"rttMs": None},
    ],
)
def test_a_report_with_a_figure_out_of_bounds_or_not_a_number_is_refused(
    change: dict[str, object],
) -> None:
    assert parse_stats({**GOOD, **change}, now=1.0) is None


def test_without_a_report_the_answer_says_where_figures_come_from() -> None:
    assert "meeting page reports them" in describe_stats(None, now=1.0)
