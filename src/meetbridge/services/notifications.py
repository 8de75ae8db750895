"""From meeting events to the changes owed to the chat platform (written to the outbox).

Runs inside the event applier's transaction: what a meeting event means for cards, statuses
and ringing is stored together with the meeting state, and delivered by the outbox worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.clock import Clock
from meetbridge.domain.ids import UserId
from meetbridge.domain.meetings import (
    MeetingEnded,
    MeetingEvent,
    MeetingStarted,
    ParticipantJoined,
    ParticipantLeft,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store import chat_repo, outbox_repo

CARD_SYNC = "card.sync"
STATUS_SYNC = "status.sync"
RING_START = "ring.start"
RING_UPDATE = "ring.update"
RING_EXPIRE = "ring.expire"


async def enqueue_card(conn: AsyncConnection, meeting_id: int, now: float) -> None:
    await outbox_repo.enqueue(
        conn, CARD_SYNC, {"meeting_id": meeting_id}, now, f"card:{meeting_id}"
    )


async def enqueue_status(conn: AsyncConnection, user_id: UserId, now: float) -> None:
    await outbox_repo.enqueue(conn, STATUS_SYNC, {"user_id": user_id}, now, f"status:{user_id}")


async def enqueue_ring_update(conn: AsyncConnection, ring_id: int, now: float) -> None:
    await outbox_repo.enqueue(conn, RING_UPDATE, {"ring_id": ring_id}, now, f"ring:{ring_id}")


class MeetingNotifier:
    """The applier's hook: meeting events in, outbox items out (same transaction)."""

    def __init__(self, state: SharedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    async def __call__(
        self, conn: AsyncConnection, events: Sequence[tuple[int, MeetingEvent]]
    ) -> None:
        """Coalesced before insert: a batch of a busy meeting's events owes Mattermost one card
        update and one status per person, rendered from the state current when sent, not one
        outbox row per event."""
        now = self._clock.now()
        cards: set[int] = set()
        statuses: set[UserId] = set()
        answered: set[tuple[int, UserId]] = set()

        async def status(user_id: UserId) -> None:
            if user_id not in statuses:
                statuses.add(user_id)
                await enqueue_status(conn, user_id, now)

        for meeting_id, event in events:
            # The card is synced even with notifications off: the sync decides what to show.
            if meeting_id not in cards:
                cards.add(meeting_id)
                await enqueue_card(conn, meeting_id, now)
            if isinstance(event, MeetingStarted):
                if self._state.settings.ringing_timeout > 0:
                    await outbox_repo.enqueue(
                        conn,
                        RING_START,
                        {"meeting_id": meeting_id},
                        now,
                        f"ring-start:{meeting_id}",
                    )
            elif isinstance(event, ParticipantJoined):
                user_id = event.participant.user_id
                if user_id:
                    await status(user_id)
                    if (meeting_id, user_id) not in answered:
                        answered.add((meeting_id, user_id))
                        await self._answer_ring(conn, meeting_id, user_id, now)
            elif isinstance(event, ParticipantLeft):
                if event.user_id:
                    await status(event.user_id)
            elif isinstance(event, MeetingEnded):
                for attendee in event.attendees:
                    if attendee.user_id:
                        await status(attendee.user_id)
                await self._miss_rings(conn, meeting_id, now)

    async def _answer_ring(
        self, conn: AsyncConnection, meeting_id: int, user_id: UserId, now: float
    ) -> None:
        for ring in await chat_repo.rings_of(conn, meeting_id):
            if ring.callee_id == user_id and await chat_repo.set_ring_state(
                conn, ring.id, chat_repo.ANSWERED, now
            ):
                await enqueue_ring_update(conn, ring.id, now)

    async def _miss_rings(self, conn: AsyncConnection, meeting_id: int, now: float) -> None:
        for ring in await chat_repo.rings_of(conn, meeting_id):
            if await chat_repo.set_ring_state(conn, ring.id, chat_repo.MISSED, now):
                await enqueue_ring_update(conn, ring.id, now)


MEETING_REPLY = "meeting.reply"


async def enqueue_meeting_reply(
    conn: AsyncConnection, meeting_id: int, message: str, key: str, now: float
) -> None:
    """A line for the meeting card's thread (delivered once the card exists)."""
    payload = {"meeting_id": meeting_id, "message": message, "key": key}
    await outbox_repo.enqueue(conn, MEETING_REPLY, payload, now, key)


RECORDING_UPLOAD = "recording.upload"


async def enqueue_recording_upload(
    conn: AsyncConnection,
    recording: RecordingFile,
    now: float,
) -> None:
    """A recording's file for the meeting card's thread (or the channel, without a card); the
    outbox deletes the local file once Mattermost has it."""
    payload = {
        "meeting_id": recording.meeting_id,
        "channel_id": recording.channel_id,
        "path": recording.path,
        "filename": recording.filename,
        "content_type": recording.content_type,
        "message": recording.message,
        "key": recording.key,
        "recording_id": recording.recording_id,  # to note the post for the admin console
    }
    await outbox_repo.enqueue(conn, RECORDING_UPLOAD, payload, now, recording.key)


@dataclass(frozen=True, slots=True)
class RecordingFile:
    channel_id: str
    meeting_id: int | None
    path: str
    filename: str
    message: str
    key: str
    content_type: str = "audio/ogg"
    recording_id: int | None = None


TRANSCRIPT_POST = "transcript.post"


@dataclass(frozen=True, slots=True)
class PostedFile:
    path: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class TranscriptPost:
    channel_id: str
    meeting_id: int | None
    message: str
    key: str
    files: tuple[PostedFile, ...]


async def enqueue_transcript_post(conn: AsyncConnection, post: TranscriptPost, now: float) -> None:
    """A recording's transcript files for the meeting card's thread (or the channel, without a
    card), in one post; the outbox deletes the local files once Mattermost has them."""
    payload = {
        "meeting_id": post.meeting_id,
        "channel_id": post.channel_id,
        "message": post.message,
        "key": post.key,
        "files": [
            {"path": f.path, "filename": f.filename, "content_type": f.content_type}
            for f in post.files
        ],
    }
    await outbox_repo.enqueue(conn, TRANSCRIPT_POST, payload, now, post.key)


async def ignore_ring(conn: AsyncConnection, ring_id: int, user_id: UserId, now: float) -> bool:
    """The callee declines a call ringing for them (the companion plugin's Ignore); False when
    the ring is not theirs. A ring no longer ringing stays as it is."""
    ring = await chat_repo.get_ring(conn, ring_id)
    if ring is None or ring.callee_id != user_id:
        return False
    if await chat_repo.set_ring_state(conn, ring.id, chat_repo.IGNORED, now):
        await enqueue_ring_update(conn, ring.id, now)
    return True
