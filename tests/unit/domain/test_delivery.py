from __future__ import annotations

from meetbridge.domain.delivery import Delivery, NodeCursor, advance, classify


def run(events: list[tuple[str, int, float]]) -> list[Delivery]:
    cursor: NodeCursor | None = None
    seen = []
    for event, seq, time in events:
        delivery = classify(cursor, event, seq, time)
        seen.append(delivery)
        if delivery is not Delivery.DUPLICATE:
            cursor = advance(cursor, delivery, event, seq, time)
    return seen


def test_in_order_events_are_new() -> None:
    assert run([("eventsink_started", 1, 10.0), ("a", 2, 11.0), ("b", 3, 12.0)]) == [
        Delivery.NEW,
        Delivery.NEW,
        Delivery.NEW,
    ]


def test_retried_events_are_duplicates() -> None:
    events = [("eventsink_started", 1, 10.0), ("a", 2, 11.0), ("a", 2, 11.0), ("b", 3, 12.0)]
    assert run(events)[2] is Delivery.DUPLICATE
    # A late retry of an older event is a duplicate too.
    assert run([*events, ("a", 2, 11.0)])[-1] is Delivery.DUPLICATE


def test_retry_of_sink_started_is_a_duplicate() -> None:
    assert run([("eventsink_started", 1, 10.0), ("eventsink_started", 1, 10.0)]) == [
        Delivery.NEW,
        Delivery.DUPLICATE,
    ]


def test_sink_restart_starts_a_new_run() -> None:
    events = [
        ("eventsink_started", 1, 10.0),
        ("a", 2, 11.0),
        ("b", 3, 12.0),
        ("eventsink_started", 1, 50.0),
        ("c", 2, 51.0),
        ("c", 2, 51.0),
    ]
    assert run(events) == [
        Delivery.NEW,
        Delivery.NEW,
        Delivery.NEW,
        Delivery.RESTART,
        Delivery.NEW,
        Delivery.DUPLICATE,
    ]


def test_restart_whose_started_event_was_missed_is_recognised_by_time() -> None:
    events = [("eventsink_started", 1, 10.0), ("a", 2, 11.0), ("b", 3, 12.0), ("c", 2, 60.0)]
    assert run(events)[-1] is Delivery.RESTART


def test_gaps_are_accepted() -> None:
    assert run([("a", 5, 10.0), ("b", 9, 11.0)]) == [Delivery.NEW, Delivery.NEW]
