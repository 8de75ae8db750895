"""The holes issue 9 lists and other branches are closing, recognised by their input.

The property tests skip (``assume``) exactly these classes of input, so that they find holes
nobody knows about yet; test_known_holes.py holds one strict xfail per class, which fails (and
so must be flipped to a plain test) the moment the fix is merged.
"""

from __future__ import annotations

from typing import Any

BIGINT_MAX = 2**63 - 1
MAX_NODE = 255  # the width of inbox.node and sink_nodes.node


def envelope_items(document: Any) -> list[Any]:
    """The envelopes a decoded sink body carries (the wrapper's items for a bulk one)."""
    if not isinstance(document, dict):
        return []
    if document.get("event") == "eventsink_bulk" and isinstance(document.get("data"), list):
        node = document.get("node")
        return [
            {"node": node, **item} if isinstance(item, dict) and "node" not in item else item
            for item in document["data"]
        ]
    return [document]


def sink_overflows_bigint(document: Any) -> bool:
    """Issue 9 item 1: a ``seq`` of 2^63 or more passes validation and fails the group commit."""
    items = [document, *envelope_items(document)] if isinstance(document, dict) else []
    return any(
        isinstance(item, dict)
        and isinstance(item.get("seq"), int)
        and not isinstance(item.get("seq"), bool)
        and item["seq"] > BIGINT_MAX
        for item in items
    )


def sink_has_nul_text(document: Any) -> bool:
    """Issue 9 item 1: a NUL in a stored text column (``node``, ``event``, the body) cannot be
    stored by PostgreSQL and fails the group commit for everyone."""
    return "\x00" in _all_text(document) or "\\u0000" in _all_text(document)


def _all_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "".join(_all_text(k) + _all_text(v) for k, v in value.items())
    if isinstance(value, list):
        return "".join(_all_text(v) for v in value)
    return ""


def non_ascii(text: str) -> bool:
    """Issue 9 item 1: verifiers call hmac.compare_digest on str, which raises for non-ASCII."""
    return not text.isascii()


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
