"""A meeting page's summary of its own connection (WebRTC getStats), as /meet stats shows it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.domain.views import describe_duration

BOUNDS = {"sendKbps": 10_000_000.0, "receiveKbps": 10_000_000.0, "packetLossPercent": 100.0,
          "rttMs": 600_000.0}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CallStats:
    send_kbps: float
    receive_kbps: float
    packet_loss_percent: float
    rtt_ms: float
    at: float  # when meetbridge received it


def parse_stats(body: Mapping[str, Any], now: float) -> CallStats | None:
    """The report in a control-API body; None unless every figure is a finite number in bounds."""
    values: list[float] = []
    for key, bound in BOUNDS.items():
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not (math.isfinite(value) and 0 <= value <= bound):
            return None
        values.append(float(value))
    send, receive, loss, rtt = values
    return CallStats(send, receive, loss, rtt, at=now)


def describe_stats(stats: CallStats | None, now: float, texts: Messages = ENGLISH) -> str:
    if stats is None:
        return texts("stats.none")
    return texts(
        "stats.report",
        ago=describe_duration(max(now - stats.at, 1.0), texts),
        send=f"{stats.send_kbps:,.0f}",
        receive=f"{stats.receive_kbps:,.0f}",
        loss=f"{stats.packet_loss_percent:.1f}",
        rtt=f"{stats.rtt_ms:,.0f}",
    )
