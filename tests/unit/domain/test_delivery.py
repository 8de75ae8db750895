from __future__ import annotations

import pytest

from meetbridge.domain.delivery import (
    RETRY_WINDOW,
    Delivery,
    Failure,
    NodeCursor,
    advance,
    classify,
    classify_failure,
    gives_up,
    retry_delay,
)


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


# --- the outbox: which failures are retried, and for how long ----------------------------


@pytest.mark.parametrize(
    ("status", "from_platform", "answers"),
    [
        (None, False, None),  # timeout, connection refused
        (502, False, None),
        (503, True, None),
        (429, True, True),
        (408, True, True),
        (302, False, None),  # an SSO gateway redirecting to its login page
        (200, False, None),  # 200 with an HTML maintenance page
        (401, False, None),  # a proxy's 401 page
        (403, False, True),  # a gateway's 403 page while Mattermost answers
        (404, False, True),
        (401, True, True),  # Mattermost: token revoked; owed once an admin replaces it
        (403, True, False),  # Mattermost's error body, but its ping fails
        (404, True, False),
        (404, True, None),
    ],
)
def test_outages_gateways_and_revoked_tokens_are_transient(
    status: int | None, from_platform: bool, answers: bool | None
) -> None:
    assert (
        classify_failure(status, from_platform=from_platform, platform_answers=answers)
        is Failure.TRANSIENT
    )


@pytest.mark.parametrize("status", [400, 403, 404, 413])
def test_only_a_healthy_mattermosts_own_refusal_is_final(status: int) -> None:
    assert classify_failure(status, from_platform=True, platform_answers=True) is Failure.REFUSED


def test_retries_are_fast_at_first_then_slow_down_for_days() -> None:
    assert retry_delay(1, 0) == 1.0
    assert retry_delay(30, 600) == 15.0
    assert retry_delay(300, 2 * 3600) == 60.0
    assert retry_delay(3000, 3 * 24 * 3600) == 300.0
    # Seven days at these delays: a few thousand attempts, not the old eight hours' two thousand.
    assert not gives_up(3 * 24 * 3600, final_state=False)


def test_ordinary_items_give_up_after_the_window_final_states_never() -> None:
    assert gives_up(RETRY_WINDOW, final_state=False)
    assert not gives_up(RETRY_WINDOW * 10, final_state=True)
