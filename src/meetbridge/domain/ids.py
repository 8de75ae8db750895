"""Identifier types, so that a channel id and a user id cannot be swapped by accident."""

from __future__ import annotations

import re
from typing import NewType

ChannelId = NewType("ChannelId", str)
UserId = NewType("UserId", str)

# Mattermost ids are 26 characters of lower-case base32.
_MATTERMOST_ID = re.compile(r"[a-z0-9]{26}")


def is_mattermost_id(value: str) -> bool:
    return _MATTERMOST_ID.fullmatch(value) is not None


def parse_channel_id(value: str) -> ChannelId:
    """Validate a channel id typed by an admin; raises ValueError with a readable message."""
    candidate = value.strip().lower()
    if not is_mattermost_id(candidate):
        raise ValueError(
            f"{value!r} is not a Mattermost channel id (26 lower-case letters and digits)"
        )
    return ChannelId(candidate)
