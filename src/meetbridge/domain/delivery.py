"""Delivery rules for numbered event streams: duplicates and restarts, per node.

Written for Pexip's event sink, whose rules are the strictest of the engines: Infinity numbers
events per node and per sink run with ``seq``, starting at 1 when the sink starts
(``eventsink_started``). It retries an event it got no answer for, so the same event may arrive
twice, and after a sink restart ``seq`` starts again at 1 and earlier numbers are reused.

A retried event is byte-identical to the original (same seq, same time). An event with a number
we have already passed is therefore either a retry (its time is not newer than what we saw last)
or the start of a new run (a fresh ``eventsink_started``, or a time later than anything seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SINK_STARTED = "eventsink_started"


class Delivery(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class NodeCursor:
    """Where a node's current sink run has got to."""

    run_started_at: float
    last_seq: int
    last_time: float


def classify(cursor: NodeCursor | None, event: str, seq: int, time: float) -> Delivery:
    if cursor is None:
        return Delivery.NEW
    if seq > cursor.last_seq:
        return Delivery.NEW
    if event == SINK_STARTED and time != cursor.run_started_at:
        return Delivery.RESTART
    if time > cursor.last_time:
        return Delivery.RESTART
    return Delivery.DUPLICATE


def advance(
    cursor: NodeCursor | None, delivery: Delivery, event: str, seq: int, time: float
) -> NodeCursor:
    """The node's cursor after accepting an event classified as NEW or RESTART."""
    if cursor is None or delivery is Delivery.RESTART or event == SINK_STARTED:
        return NodeCursor(run_started_at=time, last_seq=seq, last_time=time)
    return NodeCursor(
        run_started_at=cursor.run_started_at,
        last_seq=seq,
        last_time=max(cursor.last_time, time),
    )
