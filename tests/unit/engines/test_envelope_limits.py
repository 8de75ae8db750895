"""Envelope limits at intake: what a BIGINT, a PostgreSQL text column and the applier can take."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from meetbridge.engines.pexip.events import MAX_SEQ, MAX_STRING, EnvelopeError, parse_body

BASE: dict[str, Any] = {
    "node": "10.0.0.1",
    "seq": 1,
    "version": 2,
    "time": 1_700_000_000.5,
    "event": "participant_connected",
    "data": {"display_name": "Dana"},
}


def body(**changes: Any) -> bytes:
    return orjson.dumps({**BASE, **changes})


def test_the_largest_seq_a_bigint_holds_is_accepted() -> None:
    assert parse_body(body(seq=MAX_SEQ)).envelopes[0]["seq"] == MAX_SEQ


@pytest.mark.parametrize("seq", [MAX_SEQ + 1, 2**64 - 1, -1])
def test_seq_outside_a_bigint_is_refused(seq: int) -> None:
    with pytest.raises(EnvelopeError, match="'seq'"):
        parse_body(body(seq=seq))


def test_a_literal_backslash_u0000_is_text_not_a_nul() -> None:
    raw = body(data={"display_name": "\\u0000"})
    assert b"\\\\u0000" in raw
    assert parse_body(raw).envelopes[0]["data"]["display_name"] == "\\u0000"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"node": "a\tb"}, "'node'"),
        ({"event": "x\x7f"}, "'event'"),
        ({"data": {"k": "v\x00"}}, "NUL"),
        ({"data": {"k\x00": "v"}}, "NUL"),
        ({"data": {"k": ["x" * (MAX_STRING + 1)]}}, "longer than"),
        ({"time": 1e300}, "'time'"),
    ],
)
def test_hostile_text_is_refused_with_a_reason(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(EnvelopeError, match=fragment):
        parse_body(body(**changes))


def test_a_string_of_the_maximum_length_is_accepted() -> None:
    assert len(parse_body(body(data={"k": "x" * MAX_STRING})).envelopes) == 1


def test_invalid_json_is_an_envelope_error() -> None:
    with pytest.raises(EnvelopeError, match="not valid JSON"):
        parse_body(b'{"node": "\xff"}')
