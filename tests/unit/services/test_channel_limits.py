from __future__ import annotations

import pytest

from meetbridge.services.channel_limits import parse_limit


@pytest.mark.parametrize(
    ("argument", "limit"),
    [
        ("1", 1),
        (" 25 ", 25),
        ("1000", 1000),
        ("DEFAULT", None),
        ("0", ""),
        ("1001", ""),
        ("-3", ""),
        ("2.5", ""),
        ("١٢", ""),  # Arabic-Indic digits: isdigit() but not a limit
        ("9" * 5000, ""),
        ("", ""),
    ],
)
def test_a_channel_limit_is_1_to_1000_or_default(argument: str, limit: int | str | None) -> None:
    assert parse_limit(argument) == limit
