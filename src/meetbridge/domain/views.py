"""What the chat side shows about meetings, independent of how a platform renders it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.channels import ChannelInfo, ChannelKind
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import ENGLISH, Messages


@dataclass(frozen=True, slots=True)
class MeetingCard:
    meeting_id: int
    channel_id: ChannelId
    engine: str
    topic: str | None
    started_by: str | None
    started_at: float
    ended_at: float | None
    participants: tuple[str, ...]
    attendees: tuple[str, ...]
    engine_key: str = "pexip"
    join_url: str | None = None  # engines whose meetings are joined through their own link
    meeting_number: str | None = None
    roster: bool = True  # whether the engine reports who is in the meeting
    minutes: int | None = None  # the engine's own figure for how long it lasted
    created_at: float | None = None  # when the meeting record began, if not ``started_at``
    can_end: bool = False  # the engine ends meetings for everyone (an End button, for the host)
    own_apps: bool = False  # some may be in the engine's own apps, where Leave cannot reach
    started_by_username: str | None = None  # Zoom-compatible prop meeting_creator_username
    # Mattermost user ids beside participants / attendees ("" for guests): avatars in the plugin
    participant_ids: tuple[str, ...] = ()
    attendee_ids: tuple[str, ...] = ()
    locale: str = "en"  # the language of the card's words (the server's, read by many)

    @property
    def key(self) -> str:
        """Identifies the card among meetbridge's posts: engine, meeting and when the meeting
        began, so that a database restored from a backup (meeting numbers used again) never
        takes an older meeting's card for its own."""
        origin = self.started_at if self.created_at is None else self.created_at
        return f"{self.engine_key}:{self.meeting_id}:{round(origin * 1000)}"

    @property
    def is_over(self) -> bool:
        return self.ended_at is not None

    @property
    def duration(self) -> float | None:
        if self.minutes is not None:
            return self.minutes * 60.0
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)


class RingState(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    IGNORED = "ignored"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class RingCard:
    """The message a DM/GM member gets when someone starts a meeting there."""

    ring_id: int
    callee_id: UserId
    meeting_channel_id: ChannelId
    conversation: str  # "a direct message" / "Group message with ..."
    caller: str
    state: RingState
    expires_at: float = 0.0  # fixed when the ring starts: part of what identifies its message
    locale: str = "en"  # the callee's language

    @property
    def key(self) -> str:
        """Identifies the ringing message among the bot's posts (see MeetingCard.key)."""
        return f"{self.ring_id}:{round(self.expires_at * 1000)}"


def describe_duration(seconds: float, texts: Messages = ENGLISH) -> str:
    """Human duration: "45 seconds", "1 minute", "12 minutes", "1 hour 5 minutes"."""
    total = round(seconds)
    if total < 60:
        return texts.count("duration.seconds", total)
    hours, minutes = divmod(round(total / 60), 60)
    parts = []
    if hours:
        parts.append(texts.count("duration.hours", hours))
    if minutes or not hours:
        parts.append(texts.count("duration.minutes", minutes))
    return " ".join(parts)


def conversation_title(channel: ChannelInfo | None, texts: Messages = ENGLISH) -> str:
    """How a ringing call names the conversation it comes from."""
    if channel is None or channel.kind is ChannelKind.DIRECT:
        return texts("ring.direct_message")
    if channel.kind is ChannelKind.GROUP:
        if not channel.display_name:
            return texts("ring.group_message")
        return texts("ring.group_message_named", title=channel.title)
    return channel.title
