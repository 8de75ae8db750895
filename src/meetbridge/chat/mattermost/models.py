"""Mapping Mattermost's JSON objects to meetbridge's domain types."""

from __future__ import annotations

from typing import Any

from meetbridge.domain.channels import ChannelInfo, ChannelKind
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.users import UserInfo


def channel_from_json(data: dict[str, Any]) -> ChannelInfo:
    return ChannelInfo(
        id=ChannelId(data["id"]),
        kind=ChannelKind(data.get("type", "O")),
        name=data.get("name", ""),
        display_name=data.get("display_name", ""),
        team_id=data.get("team_id", ""),
        archived=int(data.get("delete_at") or 0) > 0,
    )


def user_from_json(data: dict[str, Any]) -> UserInfo:
    return UserInfo(
        id=UserId(data["id"]),
        username=data.get("username", ""),
        nickname=data.get("nickname", ""),
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        roles=data.get("roles", ""),
        is_bot=bool(data.get("is_bot", False)),
        email=data.get("email", ""),
        locale=str(data.get("locale") or ""),
    )
