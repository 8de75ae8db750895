"""Mattermost users as meetbridge sees them, and the display-name rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.ids import UserId


class DisplayNameStyle(StrEnum):
    """The Pexip plugin's "Display name" setting (it spelled full_name "firstAndLastName")."""

    USERNAME = "username"
    NICKNAME = "nickname"
    FULL_NAME = "full_name"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: UserId
    username: str
    nickname: str = ""
    first_name: str = ""
    last_name: str = ""
    roles: str = ""
    is_bot: bool = False
    email: str = ""
    locale: str = ""  # the user's language in Mattermost ("" = the server's default)

    @property
    def is_system_admin(self) -> bool:
        return "system_admin" in self.roles.split()


def display_name(user: UserInfo, style: DisplayNameStyle) -> str:
    """The name shown in the meeting: the chosen field, falling back to the username when empty."""
    if style is DisplayNameStyle.NICKNAME:
        chosen = user.nickname.strip()
    elif style is DisplayNameStyle.FULL_NAME:
        chosen = f"{user.first_name.strip()} {user.last_name.strip()}".strip()
    else:
        chosen = ""
    return chosen or user.username
