"""ChatPlatform for Mattermost: the outbox worker's changes, made through the REST API."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
import structlog

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostApiError, MattermostUnavailableError
from meetbridge.chat.mattermost.plugin_events import PluginEvents
from meetbridge.chat.mattermost.rendering import card_post, ring_post
from meetbridge.domain.delivery import Failure, classify_failure
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import CATALOGUES, ENGLISH, Messages
from meetbridge.domain.views import MeetingCard, RingCard
from meetbridge.ports import ChatRefusedError, ChatUnavailableError, FileToPost

log = structlog.get_logger(__name__)

T = TypeVar("T")

IN_MEETING_STATUS = {"emoji": "calendar", "text": ENGLISH("status.in_meeting"), "duration": ""}
# The status is ours in any language: the user's language may change while they are in a call.
OUR_STATUS_TEXTS = frozenset(
    catalogue["status.in_meeting"]
    for catalogue in CATALOGUES.values()
    if "status.in_meeting" in catalogue
)


def in_meeting_status(locale: str) -> dict[str, str]:
    """The custom status shown while someone is in a meeting, in their language."""
    return {**IN_MEETING_STATUS, "text": Messages(locale)("status.in_meeting")}


# A ring the companion plugin delivered (no post): what publish_ring returns in a post's stead.
PLUGIN_RING = "plugin:"


class MattermostPlatform:
    def __init__(
        self,
        client: MattermostClient,
        buttons: ActionSigner,
        plugin: PluginEvents | None = None,
        public_url: str = "",
    ) -> None:
        """``plugin``: the companion plugin's events, used where it is set up and answers."""
        self._client = client
        self._buttons = buttons
        self._plugin = plugin
        self._public_url = public_url.rstrip("/")
        self._bot_id: str | None = None

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Map Mattermost errors onto retry (unavailable) or give up (refused)."""
        try:
            return await operation()
        except MattermostUnavailableError as exc:
            raise ChatUnavailableError(f"{what}: {exc}") from exc
        except MattermostApiError as exc:
            answers = None
            if exc.from_server and exc.status_code in (403, 404):
                answers = await self._client.ping()  # a 403/404 during an outage is no refusal
            failure = classify_failure(
                exc.status_code, from_platform=exc.from_server, platform_answers=answers
            )
            if failure is Failure.TRANSIENT:
                raise ChatUnavailableError(f"{what}: {exc}") from exc
            raise ChatRefusedError(f"{what}: {exc}") from exc

    async def bot_id(self) -> str:
        if self._bot_id is None:
            me = await self._call("who am I", self._client.get_me)
            self._bot_id = str(me["id"])
        return self._bot_id

    async def publish_card(self, card: MeetingCard, post_id: str | None) -> str:
        """Create or update a card. The caller looks for an existing card (``find_card``)
        before asking for a create, since a create may have got through unanswered."""
        stable_link = f"{self._public_url}/meet/{card.channel_id}" if self._public_url else ""
        post = card_post(card, self._buttons, stable_link)
        if post_id is None:
            post_id = await self._create_once(
                "create card", card.channel_id, post, f"meetbridge:{card.channel_id}:{card.key}"
            )
        else:
            await self._patch("update card", post_id, post)
        await self._announce(card, post_id)
        return post_id

    async def announce_meeting(self, card: MeetingCard) -> None:
        await self._announce(card, "")

    async def _announce(self, card: MeetingCard, post_id: str) -> None:
        """Tell the channel's clients with the companion plugin (sidebar indicator); best
        effort: a lost event is corrected by the next change of the meeting."""
        if self._plugin is None:
            return
        data = {
            "channel_id": card.channel_id,
            "post_id": post_id,
            "status": "ENDED" if card.is_over else "STARTED",
            "topic": card.topic or "",
            "participants": len(card.participants),
        }
        await self._plugin.publish("meeting_state", data, channel_id=card.channel_id)

    async def _create_once(
        self, what: str, channel_id: str, post: dict[str, Any], pending_post_id: str
    ) -> str:
        """Create a post Mattermost de-duplicates: a repeated create with the same
        ``pending_post_id`` (a timed-out attempt Mattermost carried out after all, another
        replica) returns the post made first, which is then brought up to date."""
        post["props"]["meetbridge_rev"] = _revision(post)
        body = {"channel_id": channel_id, "pending_post_id": pending_post_id, **post}
        created = await self._call(what, lambda: self._client.create_post(body))
        post_id = str(created["id"])
        if (created.get("props") or {}).get("meetbridge_rev") != post["props"]["meetbridge_rev"]:
            await self._patch(what, post_id, post)  # folded into an older create
        return post_id

    async def _patch(self, what: str, post_id: str, post: dict[str, Any]) -> None:
        post["props"]["meetbridge_rev"] = _revision(post)
        patch = {"message": post["message"], "props": post["props"]}
        await self._call(what, lambda: self._client.patch_post(post_id, patch))

    async def find_card(self, channel_id: ChannelId, card_key: str) -> str | None:
        return await self._find(channel_id, "meetbridge_card", card_key)

    async def post_reply(
        self, channel_id: ChannelId, root_id: str | None, message: str, key: str
    ) -> str:
        existing = await self._find(channel_id, "meetbridge_reply", key)
        if existing is not None:
            return existing  # an earlier attempt got through
        post = {
            "channel_id": channel_id,
            "root_id": root_id or "",
            "message": message,
            "props": {"meetbridge_reply": key},
        }
        created = await self._call("reply", lambda: self._client.create_post(post))
        return str(created["id"])

    async def post_file_reply(
        self,
        channel_id: ChannelId,
        root_id: str | None,
        message: str,
        key: str,
        file: FileToPost,
        *more: FileToPost,
    ) -> str:
        existing = await self._find(channel_id, "meetbridge_reply", key)
        if existing is not None:
            return existing  # an earlier attempt got through
        # An upload whose post failed stays an orphan file; Mattermost does not show it.
        uploaded = [await self._upload(channel_id, each) for each in (file, *more)]
        post = {
            "channel_id": channel_id,
            "root_id": root_id or "",
            "message": message,
            "file_ids": uploaded,
            "props": {"meetbridge_reply": key},
        }
        created = await self._call("reply with file", lambda: self._client.create_post(post))
        return str(created["id"])

    async def _upload(self, channel_id: ChannelId, file: FileToPost) -> str:
        return await self._call("upload file", lambda: self._client.upload_file(channel_id, file))

    async def _find(self, channel_id: str, prop: str, value: object) -> str | None:
        bot_id = await self.bot_id()
        posts = await self._call("read channel", lambda: self._client.recent_posts(channel_id, 100))
        for post in posts:
            props = post.get("props") or {}
            if post.get("user_id") == bot_id and props.get(prop) == value:
                return str(post["id"])
        return None

    async def publish_ring(self, ring: RingCard, post_id: str | None) -> str:
        """Through the companion plugin's incoming-call panel where it is set up and answers;
        otherwise (or once it stops answering) as a message from the bot."""
        through_plugin = post_id is None or post_id.startswith(PLUGIN_RING)
        if through_plugin and await self._ring_through_plugin(ring):
            # Stored where a post id goes (26 characters): the ring's id is unique enough.
            return post_id or f"{PLUGIN_RING}{ring.ring_id}"
        if post_id is not None and post_id.startswith(PLUGIN_RING):
            post_id = None
        return await self._post_ring(ring, post_id)

    async def _ring_through_plugin(self, ring: RingCard) -> bool:
        if self._plugin is None:
            return False
        data = {
            "ring_id": ring.ring_id,
            "channel_id": ring.meeting_channel_id,
            "caller": ring.caller,
            "conversation": ring.conversation,
            "state": ring.state.value,
        }
        return await self._plugin.publish("incoming_call", data, user_id=ring.callee_id)

    async def _post_ring(self, ring: RingCard, post_id: str | None) -> str:
        bot_id = await self.bot_id()
        direct = await self._call(
            "open direct channel",
            lambda: self._client.create_direct_channel(bot_id, ring.callee_id),
        )
        channel_id = str(direct["id"])
        post = ring_post(ring, channel_id, self._buttons)
        if post_id is None:
            # An earlier attempt may have posted it before its answer was lost.
            post_id = await self._find(channel_id, "meetbridge_ring", ring.key)
        if post_id is None:
            return await self._create_once(
                "ring", channel_id, post, f"meetbridge:{channel_id}:ring:{ring.key}"
            )
        await self._patch("update ring", post_id, post)
        return post_id

    async def set_in_meeting_status(self, user_id: UserId) -> object:
        previous, locale = await self._custom_status(user_id)
        if previous is not None and previous.get("text") in OUR_STATUS_TEXTS:
            previous = None  # ours already (a retry): nothing to keep
        status = in_meeting_status(locale)
        await self._call(
            "set custom status", lambda: self._client.set_custom_status(user_id, status)
        )
        return previous

    async def restore_status(self, user_id: UserId, previous: object) -> None:
        current, _ = await self._custom_status(user_id)
        if current is None or current.get("text") not in OUR_STATUS_TEXTS:
            return  # the user set something else meanwhile: leave it
        if isinstance(previous, dict) and not _expired(previous):
            await self._call(
                "restore custom status", lambda: self._client.set_custom_status(user_id, previous)
            )
        else:
            await self._call(
                "clear custom status", lambda: self._client.clear_custom_status(user_id)
            )

    async def _custom_status(self, user_id: str) -> tuple[dict[str, Any] | None, str]:
        """The user's custom status (None when they have none) and their language."""
        user = await self._call("read user", lambda: self._client.get_user(user_id)) or {}
        locale = str(user.get("locale") or "")
        raw = (user.get("props") or {}).get("customStatus")
        if not raw:
            return None, locale
        try:
            status = orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError:
            return None, locale
        return (status if isinstance(status, dict) and status.get("text") else None), locale


def _revision(post: dict[str, Any]) -> str:
    """A fingerprint of what a post should show, to tell a stale copy from a current one."""
    content = {
        "message": post["message"],
        "props": {k: v for k, v in post["props"].items() if k != "meetbridge_rev"},
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _expired(status: dict[str, Any]) -> bool:
    expires = status.get("expires_at")
    if not isinstance(expires, str) or not expires or expires.startswith("0001"):
        return False
    try:
        from datetime import datetime

        return datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() < time.time()
    except ValueError:
        return False
