"""What the chat side shows about meetings, independent of how a platform renders it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.channels import ChannelInfo, ChannelKind
from meetbridge.domain.ids import ChannelId, UserId


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

    @property
    def key(self) -> str:
        """Identifies the ringing message among the bot's posts (see MeetingCard.key)."""
        return f"{self.ring_id}:{round(self.expires_at * 1000)}"


def describe_duration(seconds: float) -> str:
    """Human duration: "45 seconds", "1 minute", "12 minutes", "1 hour 5 minutes"."""
    total = round(seconds)
    if total < 60:
        return f"{total} second{'s' if total != 1 else ''}"
    hours, minutes = divmod(round(total / 60), 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def conversation_title(channel: ChannelInfo | None) -> str:
    """How a ringing call names the conversation it comes from."""
    if channel is None or channel.kind is ChannelKind.DIRECT:
        return "direct message"
    if channel.kind is ChannelKind.GROUP:
        return f"group message {channel.title}" if channel.display_name else "group message"
    return channel.title
