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


# --- delivering changes to the chat platform (the outbox) ------------------------------------


class Failure(StrEnum):
    """What a failed call to the chat platform means for the change being delivered."""

    TRANSIENT = "transient"  # try again later: the change is still owed
    REFUSED = "refused"  # the platform itself said no: retrying would not help


def classify_failure(
    status: int | None, *, from_platform: bool, platform_answers: bool | None = None
) -> Failure:
    """Whether a failure is worth retrying.

    ``status`` is None when no HTTP answer came (timeout, connection refused or reset).
    ``from_platform`` says whether the answer was the platform's own (Mattermost's JSON error
    with its error id) rather than a proxy's or an SSO gateway's page; ``platform_answers``
    whether the platform's health check answers (None: not asked). Only a refusal that
    Mattermost itself gave while healthy is final; everything an outage, a maintenance page or
    a revoked token can cause is transient, since the change is still owed once it is over.
    """
    if status is None or status >= 500 or status in (408, 425, 429) or 300 <= status < 400:
        return Failure.TRANSIENT
    if status < 300 or not from_platform:
        return Failure.TRANSIENT  # a 2xx that is not the platform's answer (an HTML page)
    if status == 401:
        return Failure.TRANSIENT  # a revoked or mistyped token: delivered once it is replaced
    if status in (403, 404) and not platform_answers:
        return Failure.TRANSIENT  # a gateway in front of a platform that is down
    return Failure.REFUSED


FAST_RETRY_PERIOD = 3600.0  # after a short outage the backlog catches up within seconds
MAX_FAST_DELAY = 15.0
SLOW_DELAY = 60.0
SLOWEST_DELAY = 300.0
RETRY_WINDOW = 7 * 24 * 3600.0  # transient failures of ordinary items are retried this long


def retry_delay(attempts: int, age: float) -> float:
    """Seconds before the next attempt: exponential up to 15 s during the first hour, then a
    minute, then five minutes after a day (an outage of days costs a few hundred requests)."""
    if age < FAST_RETRY_PERIOD:
        return min(MAX_FAST_DELAY, 0.5 * 2.0 ** min(max(attempts, 0), 10))
    return SLOW_DELAY if age < 24 * 3600.0 else SLOWEST_DELAY


def gives_up(age: float, final_state: bool) -> bool:
    """Whether a transiently failing item stops being retried. An item that carries a final
    state (a meeting's end, a status restored, a missed call) never does: dropping it would
    leave a card "in progress" or a status "In a video conference" for good."""
    return not final_state and age >= RETRY_WINDOW
