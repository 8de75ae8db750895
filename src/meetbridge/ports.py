"""What the services need from the outside world, as Protocols the edges implement."""

from __future__ import annotations

from typing import Protocol

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.users import UserInfo


class DirectoryUnavailableError(Exception):
    """The chat platform could not be asked in time; the answer is unknown (not "no")."""


class ChannelDirectory(Protocol):
    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        """The channel, or None if it does not exist (or the bot may not see it).

        Raises DirectoryUnavailableError when the platform cannot be reached in time.
        """
        ...


class UserDirectory(Protocol):
    async def user(self, user_id: UserId) -> UserInfo | None:
        """The user, or None if unknown. Raises DirectoryUnavailableError like channel()."""
        ...
