"""What meetbridge knows about a Mattermost channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.ids import ChannelId


class ChannelKind(StrEnum):
    PUBLIC = "O"
    PRIVATE = "P"
    DIRECT = "D"
    GROUP = "G"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: ChannelId
    kind: ChannelKind
    name: str
    display_name: str
    team_id: str
    archived: bool

    @property
    def is_direct(self) -> bool:
        return self.kind is ChannelKind.DIRECT

    @property
    def is_conversation(self) -> bool:
        """Direct and group messages: where members are rung instead of notified."""
        return self.kind in (ChannelKind.DIRECT, ChannelKind.GROUP)

    @property
    def title(self) -> str:
        if self.display_name:
            return self.display_name
        if self.kind is ChannelKind.DIRECT:
            return "Direct message"
        if self.kind is ChannelKind.GROUP:
            return "Group message"
        return self.name
