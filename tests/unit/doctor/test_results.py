"""The doctor's lines: one per check, the fix only where something is wrong; the exit status."""

from __future__ import annotations

from meetbridge.doctor.results import Status, exit_status, fail, ok, skip, warn


def test_a_line_names_the_check_and_gives_the_fix_only_when_needed() -> None:
    assert ok("database", "answers").line() == "OK    database: answers"
    assert fail("TURN/UDP", "no answer", "open 3478/udp").line() == (
        "FAIL  TURN/UDP: no answer  -> open 3478/udp"
    )
    assert (
        warn("Pexip", "never asked", "set the policy URL").line().endswith("-> set the policy URL")
    )
    assert skip("LiveKit API", "not configured").line() == "SKIP  LiveKit API: not configured"


def test_only_a_failed_check_fails_the_run() -> None:
    assert exit_status([ok("a", ""), warn("b", "", "x"), skip("c", "")]) == 0
    assert exit_status([ok("a", ""), fail("b", "", "x")]) == 1
    assert exit_status([]) == 0
    assert {s.value for s in Status} == {"ok", "warn", "fail", "skip"}
