"""What the services need from the outside world, as Protocols the edges implement."""

from __future__ import annotations

from typing import Protocol

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.users import UserInfo
from meetbridge.domain.views import MeetingCard, RingCard


class DirectoryUnavailableError(Exception):
    """The chat platform could not be asked in time; the answer is unknown (not "no")."""


class ChannelDirectory(Protocol):
    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        """The channel, or None if it does not exist (or the bot may not see it).

        Raises DirectoryUnavailableError when the platform cannot be reached in time.
        """
        ...


class MembershipDirectory(Protocol):
    async def is_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether the user belongs to the channel. Raises DirectoryUnavailableError."""
        ...

    async def members(self, channel_id: ChannelId) -> list[UserId]:
        """Everyone in the channel. Raises DirectoryUnavailableError."""
        ...

    async def is_channel_admin(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether the user is an admin of the channel. Raises DirectoryUnavailableError."""
        ...


class UserDirectory(Protocol):
    async def user(self, user_id: UserId) -> UserInfo | None:
        """The user, or None if unknown. Raises DirectoryUnavailableError like channel()."""
        ...

    async def user_now(self, user_id: UserId) -> UserInfo | None:
        """Like user(), but asked of the platform now, never from a cache: for roles that
        grant access (system admin)."""
        ...


class Directory(ChannelDirectory, MembershipDirectory, UserDirectory, Protocol):
    """Channels, memberships and people, as one object (the Mattermost cache)."""


class ChatUnavailableError(Exception):
    """The chat platform could not take the change now; try again later."""


class ChatRefusedError(Exception):
    """The chat platform refused the change for good (permissions, a deleted post...)."""


class ChatPlatform(Protocol):
    """The changes meetbridge makes in the chat platform, delivered by the outbox worker.

    Every method is safe to repeat: a retry after an unknown outcome must not duplicate.
    Raises ChatUnavailableError (retry) or ChatRefusedError (give up).
    """

    async def publish_card(self, card: MeetingCard, post_id: str | None) -> str:
        """Create the meeting card (post_id None) or bring it up to date; returns its id."""
        ...

    async def find_card(self, channel_id: ChannelId, card_key: str) -> str | None:
        """An existing card (MeetingCard.key), if an earlier attempt created it after all."""
        ...

    async def post_reply(
        self, channel_id: ChannelId, root_id: str | None, message: str, key: str
    ) -> str:
        """Post a message in a card's thread, once per ``key``; returns its id."""
        ...

    async def publish_ring(self, ring: RingCard, post_id: str | None) -> str:
        """Create or update the ringing message of one callee; returns its id."""
        ...

    async def set_in_meeting_status(self, user_id: UserId) -> object:
        """Show the user as in a meeting; returns what it replaced (to restore later)."""
        ...

    async def restore_status(self, user_id: UserId, previous: object) -> None:
        """Undo set_in_meeting_status, unless the user changed their status since."""
        ...
