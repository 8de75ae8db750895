"""Who may join a channel's meeting, and the personal links that take them there.

A join link is personal, signed and short-lived: it names the user and the channel, so the page
it opens needs no separate sign-in, and it stops working after ``JOIN_LINK_LIFETIME``. Opening
it checks again that the channel may meet and that the user still belongs to it. The link
itself never contains the PIN: the PIN is added only on the way to the meeting.
"""

from __future__ import annotations

from enum import StrEnum

import structlog

from meetbridge.clock import Clock
from meetbridge.domain.access import Access, channel_access
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.domain.users import display_name
from meetbridge.domain.views import RingCard, RingState, conversation_title
from meetbridge.ports import (
    Directory,
    DirectoryUnavailableError,
    EngineRefusedError,
    Engines,
    EngineUnavailableError,
    JoinRequest,
    JoinTarget,
    MeetingEngine,
    StartAnswer,
    StartRequest,
    own_start_flow,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store import chat_repo, meetings_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

JOIN_LINK_LIFETIME = 10 * 60.0
JOIN_PURPOSE = "join"


class Refusal(StrEnum):
    NOT_AVAILABLE = "Conference not available for this channel"
    NOT_MEMBER = "Only members of this channel can join its meeting."
    UNAVAILABLE = "Mattermost cannot be reached right now; please try again in a moment."
    NOT_CONFIGURED = "meetbridge has no Pexip Infinity server configured yet; ask an admin."
    BAD_LINK = "This meeting link is not valid."
    OTHER_ENGINE = "This channel's meetings now take place elsewhere; run /meet again."
    ENGINE_REFUSED = "You cannot join this meeting now."


class JoinRefusedError(Exception):
    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(detail or refusal.value)
        self.refusal = refusal
        self.detail = detail or refusal.value


class JoinService:
    def __init__(
        self,
        state: SharedState,
        directory: Directory,
        database: Database,
        links: TokenCodec,
        clock: Clock,
        public_url: str,
        engines: Engines,
    ) -> None:
        self._engines = engines
        self._state = state
        self._directory = directory
        self._database = database
        self._links = links
        self._clock = clock
        self._public_url = public_url

    async def check(self, channel_id: ChannelId, user_id: UserId) -> ChannelInfo:
        """The channel, if this user may meet in it now; raises JoinRefusedError otherwise."""
        try:
            channel = await self._directory.channel(channel_id)
            if channel_access(channel_id, channel, self._state.disallowed) is not Access.ALLOWED:
                raise JoinRefusedError(Refusal.NOT_AVAILABLE)
            if not await self._directory.is_member(channel_id, user_id):
                raise JoinRefusedError(Refusal.NOT_MEMBER)
        except DirectoryUnavailableError as exc:
            raise JoinRefusedError(Refusal.UNAVAILABLE) from exc
        assert channel is not None
        return channel

    async def in_progress_for(self, user_id: UserId) -> list[Meeting]:
        """The meetings in progress in channels this user may meet in (the channels a lookup
        cannot vouch for right now are left out, not guessed)."""
        async with self._database.read() as conn:
            running = await meetings_repo.in_progress(conn)
        found = []
        for meeting in running:
            try:
                await self.check(meeting.channel_id, user_id)
            except JoinRefusedError:
                continue
            found.append(meeting)
        return found

    async def ringing_for(self, user_id: UserId) -> list[RingCard]:
        """The calls ringing for this user now (a window opened while one rings shows it)."""
        async with self._database.read() as conn:
            rings = await chat_repo.ringing_for(conn, user_id, self._clock.now())
        texts = await self._texts_of(user_id) if rings else ENGLISH
        calls = []
        for ring in rings:
            try:
                channel = await self._directory.channel(ring.channel_id)
                caller = await self._display_name(ring.caller_id) if ring.caller_id else ""
            except (DirectoryUnavailableError, JoinRefusedError):
                continue  # told when it can be: its next update reaches every window
            calls.append(
                RingCard(
                    ring.id,
                    ring.callee_id,
                    ring.channel_id,
                    conversation_title(channel, texts),
                    caller or texts("card.someone"),
                    RingState.RINGING,
                    ring.expires_at,
                    texts.locale,
                )
            )
        return calls

    async def _texts_of(self, user_id: UserId) -> Messages:
        """The callee's language (English when Mattermost cannot say)."""
        try:
            user = await self._directory.user(user_id)
        except DirectoryUnavailableError:
            return ENGLISH
        return Messages(user.locale if user is not None else "")

    async def issue(self, channel_id: ChannelId, user_id: UserId, topic: str | None = None) -> str:
        """A personal join link, after checking the user may join; records the intent."""
        await self.check(channel_id, user_id)
        name = await self._display_name(user_id)
        now = self._clock.now()
        async with self._database.transaction() as conn:
            await chat_repo.record_intent(conn, channel_id, user_id, name, topic or None, now)
        token = self._links.encode(
            JOIN_PURPOSE, {"u": user_id, "c": channel_id}, now, JOIN_LINK_LIFETIME
        )
        return f"{self._public_url}/join/{token}"

    async def start(self, channel_id: ChannelId, user_id: UserId, topic: str | None = None) -> str:
        """``/meet``: have the channel's engine ready its room (whoever creates it is host),
        then a personal join link as issue() gives."""
        channel = await self.check(channel_id, user_id)
        engine = self._engines.engine(await self._engines.engine_for(channel_id))
        return await self._prepared_link(channel, engine, user_id, topic)

    async def begin(self, channel_id: ChannelId, user_id: UserId, topic: str = "") -> StartAnswer:
        """``/meet start``: the answer of an engine with a start flow of its own, else
        meetbridge's join link as start() gives. Raises JoinRefusedError."""
        channel = await self.check(channel_id, user_id)
        engine = self._engines.engine(await self._engines.engine_for(channel_id))
        own_flow = own_start_flow(engine)
        if own_flow is not None:
            return await own_flow.start(StartRequest(channel_id, user_id, topic))
        return StartAnswer(join_link=await self._prepared_link(channel, engine, user_id, topic))

    async def _prepared_link(
        self,
        channel: ChannelInfo,
        engine: MeetingEngine | None,
        user_id: UserId,
        topic: str | None,
    ) -> str:
        if engine is not None:
            try:
                await engine.prepare(channel, user_id)
            except EngineUnavailableError as exc:
                raise JoinRefusedError(Refusal.NOT_CONFIGURED, str(exc)) from exc
        return await self.issue(channel.id, user_id, topic)

    def link_user(self, token: str) -> UserId:
        """Whom a join link was made for (it opens only for them); raises for a bad link."""
        return self._read(token)[0]

    def _read(self, token: str) -> tuple[UserId, ChannelId]:
        try:
            claims = self._links.decode(token, JOIN_PURPOSE, self._clock.now())
        except TokenError as exc:
            raise JoinRefusedError(Refusal.BAD_LINK, str(exc).capitalize() + ".") from exc
        user_id, channel_id = claims.get("u", ""), claims.get("c", "")
        if not all(isinstance(v, str) and is_mattermost_id(v) for v in (user_id, channel_id)):
            raise JoinRefusedError(Refusal.BAD_LINK)
        return UserId(user_id), ChannelId(channel_id)

    async def open(self, token: str) -> JoinTarget:
        """What the link leads to; the caller has made sure the link's user is the one here.

        The channel's engine decides (its page configuration or its own web app)."""
        user_id, channel_id = self._read(token)
        channel = await self.check(channel_id, user_id)
        name = await self._display_name(user_id)
        engine = self._engines.engine(await self._engines.engine_for(channel.id))
        if engine is None:
            raise JoinRefusedError(Refusal.OTHER_ENGINE)
        try:
            return await engine.join_target(JoinRequest(channel, user_id, name))
        except EngineUnavailableError as exc:
            raise JoinRefusedError(Refusal.NOT_CONFIGURED, str(exc)) from exc
        except EngineRefusedError as exc:
            raise JoinRefusedError(Refusal.ENGINE_REFUSED, str(exc)) from exc

    async def _display_name(self, user_id: UserId) -> str:
        try:
            user = await self._directory.user(user_id)
        except DirectoryUnavailableError as exc:
            raise JoinRefusedError(Refusal.UNAVAILABLE) from exc
        if user is None:
            raise JoinRefusedError(Refusal.NOT_MEMBER)
        return display_name(user, self._state.settings.display_name)
