"""The channel filter: which channels may hold meetings."""

from __future__ import annotations

from collections.abc import Set
from enum import StrEnum

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId


class Access(StrEnum):
    ALLOWED = "allowed"
    DISALLOWED = "disallowed"
    ARCHIVED = "archived"
    UNKNOWN = "unknown"


def channel_access(
    channel_id: ChannelId, channel: ChannelInfo | None, disallowed: Set[ChannelId]
) -> Access:
    """Channels are allowed by default (new ones included) unless an admin disallowed them."""
    if channel is None:
        return Access.UNKNOWN
    if channel.archived:
        return Access.ARCHIVED
    if channel_id in disallowed:
        return Access.DISALLOWED
    return Access.ALLOWED
