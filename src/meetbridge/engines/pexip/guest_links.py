"""Guest links for a channel's Pexip meeting (``/meet guest-link [hours]``, channel admins).

A link is ``{public url}/guest/<token>``: a token signed by meetbridge that names a guest-link
record and expires with it. Opening it shows a page where the guest types a name; only then does
meetbridge render the meeting page with the guest PIN (Infinity makes them a guest) and a guest
call tag (meetbridge names them "<name> (guest)" for Infinity, so every roster and the card say
so). Revoking a link in the admin console stops it at once: the link no longer opens, Infinity is
told to refuse its guests' call tag, and the channel's guest PIN is replaced, so what a guest's
page held (or anyone they passed it to) admits nobody any more; the guests already in the meeting
through that link are disconnected too if the admin chooses, else they stay until a host removes
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from meetbridge.clock import Clock
from meetbridge.domain import guest_links as rules
from meetbridge.domain.access import Access, channel_access
from meetbridge.domain.call_tags import TagSigner
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.guest_links import GuestLink, LinkState
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.engines.pexip.client_api import ClientApiError
from meetbridge.engines.pexip.engine import NAME, PexipEngine
from meetbridge.ports import (
    ChannelDirectory,
    DirectoryUnavailableError,
    Engines,
    EngineUnavailableError,
    JoinTarget,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store import audit_repo, guest_links_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

GUEST_PURPOSE = "pexip-guest"
NOT_VALID = "This guest link is not valid."


class GuestLinkRefusedError(Exception):
    """The link cannot be used (now); the message is for the person holding it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Revocation:
    revoked: bool  # False: no such link in force
    removed: int = 0  # its guests disconnected from the meeting


class GuestLinks:
    def __init__(
        self,
        engine: PexipEngine,
        engines: Engines,
        channels: ChannelDirectory,
        state: SharedState,
        database: Database,
        tokens: TokenCodec,
        clock: Clock,
        public_url: str,
        call_tags: TagSigner,
    ) -> None:
        self._tags = call_tags
        self._engine = engine
        self._engines = engines
        self._channels = channels
        self._state = state
        self._database = database
        self._tokens = tokens
        self._clock = clock
        self._public_url = public_url

    async def create(self, channel_id: ChannelId, user_id: UserId, hours: int) -> str:
        """A new link for the channel's meeting, valid ``hours``; the caller checked who asks."""
        now = self._clock.now()
        link = GuestLink(rules.new_link_id(), channel_id, user_id, now, now + hours * 3600.0)
        async with self._database.transaction() as conn:
            await guest_links_repo.add(conn, link)
            await audit_repo.record(
                conn,
                f"mattermost:{user_id}",
                "guest_link.create",
                {"link": link.id, "channel_id": channel_id, "hours": hours},
                now,
            )
        claims = {"g": link.id, "c": channel_id}
        token = self._tokens.encode(GUEST_PURPOSE, claims, now, hours * 3600.0)
        return f"{self._public_url}/guest/{token}"

    async def check(self, token: str) -> tuple[GuestLink, ChannelInfo]:
        """The link and its channel, if the link may be used now; GuestLinkRefusedError else."""
        try:
            claims = self._tokens.decode(token, GUEST_PURPOSE, self._clock.now())
        except TokenError as exc:
            raise GuestLinkRefusedError(404, f"{NOT_VALID} {str(exc).capitalize()}.") from exc
        link_id, channel_id = claims.get("g"), claims.get("c")
        if not rules.is_link_id(link_id) or not (
            isinstance(channel_id, str) and is_mattermost_id(channel_id)
        ):
            raise GuestLinkRefusedError(404, NOT_VALID)
        assert isinstance(link_id, str)
        async with self._database.read() as conn:
            link = await guest_links_repo.get(conn, link_id)
        if link is None or link.channel_id != channel_id:
            raise GuestLinkRefusedError(404, NOT_VALID)
        state = link.state(self._clock.now())
        if state is LinkState.REVOKED:
            raise GuestLinkRefusedError(410, "This guest link was revoked.")
        if state is LinkState.EXPIRED:
            raise GuestLinkRefusedError(410, "This guest link has expired.")
        return link, await self._channel(link.channel_id)

    async def _channel(self, channel_id: ChannelId) -> ChannelInfo:
        try:
            channel = await self._channels.channel(channel_id)
        except DirectoryUnavailableError as exc:
            raise GuestLinkRefusedError(503, "Please try again in a moment.") from exc
        if channel_access(channel_id, channel, self._state.disallowed) is not Access.ALLOWED:
            raise GuestLinkRefusedError(404, "This meeting is not available.")
        if await self._engines.engine_for(channel_id) != NAME:
            raise GuestLinkRefusedError(404, "This meeting is not available.")
        assert channel is not None
        return channel

    async def target(self, token: str, typed_name: object) -> JoinTarget:
        """Where a guest who typed a name goes: the meeting page as a guest."""
        link, channel = await self.check(token)
        name = rules.guest_name(typed_name)
        if name is None:
            raise GuestLinkRefusedError(400, "Type the name the others will see.")
        try:
            return await self._engine.guest_target(channel, name, link.id)
        except EngineUnavailableError as exc:
            raise GuestLinkRefusedError(503, str(exc)) from exc

    async def active(self) -> list[GuestLink]:
        async with self._database.read() as conn:
            return await guest_links_repo.active(conn, self._clock.now())

    async def revoke(self, link_id: str, by: str, remove_guests: bool = False) -> Revocation:
        """Stop the link, replace its channel's guest PIN and, if asked, disconnect the guests
        who came through it."""
        if not rules.is_link_id(link_id):
            return Revocation(False)
        now = self._clock.now()
        async with self._database.transaction() as conn:
            link = await guest_links_repo.get(conn, link_id)
            revoked = await guest_links_repo.revoke(conn, link_id, now, by)
            if revoked:
                details = {"link": link_id, "remove_guests": remove_guests}
                await audit_repo.record(conn, by, "guest_link.revoke", details, now)
        if not revoked or link is None:
            return Revocation(False)
        await self._state.replace_guest_pin(link.channel_id)
        removed = await self._remove_guests(link) if remove_guests else 0
        return Revocation(True, removed)

    async def _remove_guests(self, link: GuestLink) -> int:
        """Disconnect the legs that came in with the link's call tag; how many were."""
        meeting = await self._engine.meeting(link.channel_id)
        legs = [] if meeting is None else list(meeting.legs.values())
        removed = 0
        for leg in legs:
            if rules.link_of_guest_tag(self._tags, leg.call_tag, link.channel_id) != link.id:
                continue
            try:
                await self._engine.act(link.channel_id, f"participants/{leg.uuid}/disconnect")
            except (ClientApiError, EngineUnavailableError) as exc:
                log.warning("guest_link.guest_not_removed", link=link.id, error=str(exc))
                continue
            removed += 1
        return removed
