"""In-meeting chat mirrored with the meeting card's Mattermost thread, both ways.

Page → thread: the line is posted by the bot, attributed by name. Author and text are escaped
for Mattermost's Markdown (domain/markdown.py): whoever is in the meeting, a guest who chose their
own name included, cannot make the bot post a link, an image, a mention (``@channel``) or a
second line that reads like another person's message.
Thread → page: a reply to a card of a meeting in progress goes to the meeting, under its
author's display name; the bot's own replies (the lines from the meeting) are not sent back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.markdown import escape_markdown
from meetbridge.domain.messages import ENGLISH, DefaultLocale, Messages, english_default
from meetbridge.domain.users import DisplayNameStyle, display_name
from meetbridge.ports import Directory, DirectoryUnavailableError
from meetbridge.services import notifications
from meetbridge.services.page_guard import still_member
from meetbridge.store import chat_repo, meetings_repo
from meetbridge.store.database import Database


def thread_line(name: str, text: str, texts: Messages = ENGLISH) -> str:
    """One message as one visible line: line breaks in the text become spaces."""
    shown = escape_markdown(name).strip() or texts("thread.someone")
    return texts("thread.meeting_line", name=shown, text=escape_markdown(text))


MeetingSink = Callable[[ChannelId, str, str, str, int], Awaitable[object]]
"""(channel, author's name, text, line id, at in ms): a thread line for the meeting."""


@dataclass(frozen=True, slots=True)
class ThreadReply:
    post_id: str
    root_id: str
    user_id: UserId
    message: str
    created_at_ms: int


def reply_from_event(data: Mapping[str, Any]) -> ThreadReply | None:
    """A Mattermost "posted" event's post, if it is a plain reply in a thread."""
    try:
        post = orjson.loads(str(data.get("post") or "{}"))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(post, dict) or post.get("type") not in ("", None):
        return None
    root, user, message = post.get("root_id"), post.get("user_id"), post.get("message")
    post_id, created = post.get("id"), post.get("create_at")
    if not all(isinstance(v, str) and v for v in (root, user, message, post_id)):
        return None
    if not isinstance(created, int) or not is_mattermost_id(str(user)):
        return None
    return ThreadReply(str(post_id), str(root), UserId(str(user)), str(message), created)


class MeetingChat:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        wake_outbox: Callable[[], None],
        users: Directory | None = None,
        display_style: Callable[[], DisplayNameStyle] | None = None,
        default_locale: DefaultLocale = english_default,
    ) -> None:
        self._default_locale = default_locale
        self._users = users
        self._display_style = display_style or (lambda: DisplayNameStyle.USERNAME)
        self._database = database
        self._clock = clock
        self._wake_outbox = wake_outbox

    async def to_thread(self, channel_id: ChannelId, name: str, text: str, key: str) -> bool:
        """Queue the line for the thread of the channel's meeting; False when none is known."""
        texts = Messages(await self._default_locale())  # a thread post, read by many
        async with self._database.transaction() as conn:
            meeting = await meetings_repo.current_for_channel(conn, channel_id)
            if meeting is None or meeting.id is None:
                return False
            line = thread_line(name, text, texts)
            await notifications.enqueue_meeting_reply(
                conn, meeting.id, line, f"chat:{key}"[:200], self._clock.now()
            )
        self._wake_outbox()
        return True

    async def from_thread(self, reply: ThreadReply, bot_id: str, to_meeting: MeetingSink) -> bool:
        """Send a card-thread reply to its meeting; False when it is not one (or the bot's)."""
        if reply.user_id == bot_id or self._users is None:
            return False
        async with self._database.read() as conn:
            meeting_id = await chat_repo.meeting_of_card(conn, reply.root_id)
            meeting = None if meeting_id is None else await meetings_repo.get(conn, meeting_id)
        if meeting is None or meeting.is_over:
            return False
        if not await still_member(self._users, meeting.channel_id, reply.user_id):
            return False  # someone who left the channel no longer speaks in its meeting
        try:
            author = await self._users.user(reply.user_id)
        except DirectoryUnavailableError:
            author = None
        name = display_name(author, self._display_style()) if author else "Someone"
        await to_meeting(
            meeting.channel_id, name, reply.message, f"mm-{reply.post_id}", reply.created_at_ms
        )
        return True
