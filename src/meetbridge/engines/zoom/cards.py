"""Zoom's meeting cards and thread replies, delivered by the outbox worker.

A Zoom meeting is not one of meetbridge's meetings (Zoom reports no roster): its card shows
the meeting ID and Zoom's link, and follows what the webhooks say (started, ended, how long).
"""

from __future__ import annotations

from typing import Any

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.markdown import safe_link_target
from meetbridge.domain.users import display_name
from meetbridge.domain.views import MeetingCard
from meetbridge.engines.zoom.api import DEFAULT_ZOOM_URL
from meetbridge.ports import ChatPlatform, Directory
from meetbridge.services.shared_state import SharedState
from meetbridge.store import zoom_repo
from meetbridge.store.database import Database

ZOOM_CARD = "zoom.card"
ZOOM_REPLY = "zoom.reply"


class ZoomCards:
    """The outbox kinds ZOOM_CARD (a final state: the card is what people see for good) and
    ZOOM_REPLY."""

    def __init__(self, database: Database, directory: Directory, state: SharedState) -> None:
        self._database = database
        self._directory = directory
        self._state = state

    async def sync_card(self, platform: ChatPlatform, payload: dict[str, Any]) -> None:
        row_id = int(payload["row_id"])
        async with self._database.read() as conn:
            meeting = await zoom_repo.meeting(conn, row_id)
        if meeting is None:
            return
        card = MeetingCard(
            meeting_id=row_id,
            channel_id=ChannelId(meeting.channel_id),
            engine="Zoom",
            topic=meeting.topic,
            started_by=await self._name(UserId(meeting.creator_id)),
            started_at=meeting.started_at or meeting.created_at,
            ended_at=meeting.ended_at,
            participants=(),
            attendees=(),
            engine_key="zoom",
            # Checked again here: a row written before links were validated must not be linked.
            join_url=self._zoom_link(meeting.join_url) or "",
            meeting_number=meeting.meeting_id,
            roster=False,
            minutes=meeting.duration_minutes,
            created_at=meeting.created_at,  # started_at changes when Zoom reports the start
            locale=await self._directory.default_locale(),  # a channel post: read by many
        )
        post_id = meeting.post_id
        if post_id is None:  # as for other cards: an earlier create may have got through
            post_id = await platform.find_card(card.channel_id, card.key)
        new_post_id = await platform.publish_card(card, post_id)
        if new_post_id != meeting.post_id:
            async with self._database.transaction() as conn:
                await zoom_repo.update_meeting(conn, row_id, post_id=new_post_id)

    async def reply(self, platform: ChatPlatform, payload: dict[str, Any]) -> None:
        async with self._database.read() as conn:
            meeting = await zoom_repo.meeting(conn, int(payload["row_id"]))
        if meeting is None:
            return
        await platform.post_reply(
            ChannelId(meeting.channel_id),
            meeting.post_id,
            str(payload["message"]),
            str(payload["key"]),
        )

    def _zoom_link(self, url: str) -> str | None:
        base = self._state.settings.zoom_url or DEFAULT_ZOOM_URL
        return safe_link_target(url, base)

    async def _name(self, user_id: UserId) -> str | None:
        user = await self._directory.user(user_id)
        return None if user is None else display_name(user, self._state.settings.display_name)
