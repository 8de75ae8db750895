"""Pexip Infinity as a MeetingEngine: nothing to prepare (the policy server answers when a node
asks), a join leads to meetbridge's page with the Pexip client configuration or to Webapp3.

Roles (domain/roles.py): every page gets the guest PIN; who is chair (host) is meetbridge's
answer when Infinity asks for a leg's properties, from its signed call tag (policy_service.py),
and meetbridge records the hosts it made (the control API trusts no other chair). The host PIN
never leaves meetbridge but for Infinity and meetbridge's own chair session. What meetbridge
knows of a running meeting (who is in, who is chair) is what the event sink reported. Host
controls act through Infinity's client API as a control-only chair (client_api.py).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import structlog

from meetbridge.clock import Clock
from meetbridge.domain import roles
from meetbridge.domain.aliases import alias_for_channel, alias_for_member
from meetbridge.domain.call_tags import TagSigner, make_call_tag, make_own_tag
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.guest_links import make_guest_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.messages import ENGLISH, reader
from meetbridge.domain.roles import CHAIR, GUEST, MeetingRole
from meetbridge.domain.tokens import TokenCodec
from meetbridge.engines.pexip.client_api import ClientApiError, InfinityClientApi
from meetbridge.engines.pexip.webapp3 import webapp3_url
from meetbridge.ports import (
    Capability,
    Directory,
    DirectoryUnavailableError,
    EngineUnavailableError,
    JoinRequest,
    JoinTarget,
)
from meetbridge.services.page_guard import still_member
from meetbridge.services.shared_state import SharedState
from meetbridge.store import host_grants_repo, meetings_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

NAME = "pexip"
NOT_CONFIGURED = ENGLISH("refusal.not_configured")
UNREACHABLE = ENGLISH("engine.pexip_unreachable")
CONTROLS_PURPOSE = "pexip-controls"
CONTROLS_TTL = 12 * 3600  # the page uses it for as long as the meeting lasts


class PexipEngine:
    name = NAME
    title = "Pexip Infinity"
    capabilities = frozenset(
        {
            Capability.EVENTS,
            Capability.EMBEDDED_PAGE,
            Capability.PINS,
            Capability.HOST_CONTROLS,
            Capability.END_FOR_ALL,
            Capability.GUEST_LINKS,
            Capability.OWN_APPS,
        }
    )

    def __init__(
        self,
        state: SharedState,
        call_tags: TagSigner,
        database: Database,
        directory: Directory,
        api: InfinityClientApi,
        controls: TokenCodec,
        clock: Clock,
        public_url: str,
    ) -> None:
        self._state = state
        self._call_tags = call_tags
        self._database = database
        self._directory = directory
        self._api = api
        self._controls = controls
        self._clock = clock
        self._public_url = public_url

    @property
    def api(self) -> InfinityClientApi:
        return self._api

    def missing_configuration(self) -> str | None:
        return None if self._state.settings.pexip_node else "pexip_node"

    async def prepare(self, channel: ChannelInfo, starter: UserId) -> None:
        return None  # the policy server answers when a node asks; the page says if unset

    async def join_target(self, request: JoinRequest) -> JoinTarget:
        settings = self._state.settings
        if not settings.pexip_node:
            raise EngineUnavailableError(reader()("refusal.not_configured"))
        channel, name = request.channel, request.display_name
        alias = alias_for_channel(settings.alias_prefix, channel.id)
        pin = (await self._state.pins_for(channel.id)).guest_pin  # never one that makes a chair
        # What the page will be when it joins (meetbridge decides again as Infinity asks).
        role = await self.join_role(channel, request.user_id)
        call_tag = make_call_tag(self._call_tags, channel.id, request.user_id)
        # Webapp3 links carry no call tag: the member's own alias carries it (domain/aliases.py).
        mine = alias_for_member(settings.alias_prefix, channel.id, call_tag)
        webapp3 = webapp3_url(settings.pexip_node, settings.webapp_path, mine, name, pin)
        # As in Calls: muted when joining a channel, unmuted in a direct or group message.
        start_muted = not channel.is_conversation
        config: dict[str, object] = {
            **_page_basics(settings.pexip_node, channel, alias, name),
            "pin": pin,
            "role": "host" if role is MeetingRole.HOST else "participant",
            "callTag": call_tag,
            "startMuted": start_muted,
            "directMedia": channel.is_direct and settings.direct_media_dms,
            "webapp3Url": webapp3,
            "controls": {
                "url": f"{self._public_url}/api/meetings/controls",
                "token": self.controls_token(channel.id, request.user_id),
            },
        }
        return JoinTarget(
            channel=channel,
            user_id=request.user_id,
            display_name=name,
            engine=NAME,
            embedded=settings.embedded_experience,
            page_config=config,
            external_url=webapp3,
            start_muted=start_muted,
        )

    async def guest_target(self, channel: ChannelInfo, name: str, link_id: str) -> JoinTarget:
        """An external guest's way in (a guest link): meetbridge's page with the guest PIN and
        a guest call tag, whatever the embedded setting (Webapp3 cannot carry the tag that
        marks them as a guest). No control token: a guest has no Mattermost account."""
        settings = self._state.settings
        if not settings.pexip_node:
            raise EngineUnavailableError(reader()("refusal.not_configured"))
        alias = alias_for_channel(settings.alias_prefix, channel.id)
        pins = await self._state.pins_for(channel.id)
        config: dict[str, object] = {
            **_page_basics(settings.pexip_node, channel, alias, name),
            "pin": pins.guest_pin,
            "role": "participant",
            "callTag": make_guest_tag(self._call_tags, channel.id, link_id),
            "startMuted": True,
            "directMedia": False,
            "webapp3Url": "",
        }
        return JoinTarget(
            channel=channel,
            user_id=UserId(""),
            display_name=name,
            engine=NAME,
            embedded=True,
            page_config=config,
            start_muted=True,
        )

    async def join_role(self, channel: ChannelInfo, user_id: UserId) -> MeetingRole:
        """Host in a direct message, for admins, or when no host is in the meeting; else guest."""
        if channel.is_direct:
            return MeetingRole.HOST
        meeting = await self.meeting(channel.id)
        # The host opening the meeting on another device stays host there too.
        present = roles.host_present(meeting) and not roles.user_is_chair(meeting, user_id)
        is_admin = present and await self.is_admin(channel.id, user_id)
        return roles.join_role(is_direct=False, is_admin=is_admin, host_present=present)

    async def still_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        return await still_member(self._directory, channel_id, user_id)

    async def is_admin(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """A system or channel admin (asked of Mattermost now: these roles grant host)."""
        try:
            user = await self._directory.user_now(user_id)
            if user is not None and user.is_system_admin:
                return True
            return await self._directory.is_channel_admin(channel_id, user_id)
        except DirectoryUnavailableError:
            return False  # unknown is not yes

    async def record_host(self, channel_id: ChannelId, user_id: UserId, only: bool = False) -> None:
        """meetbridge made the user host (``only``: and no one else is any more)."""
        async with self._database.transaction() as conn:
            if only:
                await host_grants_repo.hand_to(conn, channel_id, user_id, self._clock.now())
            else:
                await host_grants_repo.grant(conn, channel_id, user_id, self._clock.now())

    async def withdraw_host(self, channel_id: ChannelId, user_id: UserId) -> None:
        async with self._database.transaction() as conn:
            await host_grants_repo.withdraw(conn, channel_id, user_id)

    async def made_host(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether meetbridge made the user host of the channel's meeting."""
        async with self._database.read() as conn:
            return await host_grants_repo.granted(conn, channel_id, user_id)

    async def forget_hosts(self, channel_id: ChannelId) -> None:
        async with self._database.transaction() as conn:
            await host_grants_repo.forget_channel(conn, channel_id)

    def controls_token(self, channel_id: ChannelId, user_id: UserId) -> str:
        """The page's bearer token for the control API: this user in this channel's meeting,
        from this page (``i``: the device, for its rate limits)."""
        claims = {"c": channel_id, "u": user_id, "i": secrets.token_hex(4)}
        return self._controls.encode(CONTROLS_PURPOSE, claims, self._clock.now(), CONTROLS_TTL)

    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        try:
            return await self._directory.channel(channel_id)
        except DirectoryUnavailableError:
            return None

    async def meeting(self, channel_id: ChannelId) -> Meeting | None:
        """The channel's running Pexip meeting, as the event sink reported it."""
        async with self._database.read() as conn:
            # Who is there now is all callers look at; attendance grows with the meeting's age.
            meeting = await meetings_repo.current_for_channel(conn, channel_id, attendance=False)
            if meeting is None or meeting.id is None:
                return None
            engine = await meetings_repo.engine_of(conn, meeting.id)
        return meeting if engine == NAME else None

    # --- the client API, as chair -------------------------------------------------------------

    @property
    def can_act(self) -> bool:
        """Whether a Conferencing Node is configured for meetbridge's chair session."""
        return bool(self._state.settings.pexip_node)

    async def act(
        self, channel_id: ChannelId, endpoint: str, body: Mapping[str, object] | None = None
    ) -> object:
        """One client-API request on the channel's conference as meetbridge's chair.

        Raises ClientApiError (the node refused or cannot be reached)."""
        node, alias, pin = await self._conference(channel_id)
        own = make_own_tag(self._call_tags, channel_id)
        return await self._api.request(node, alias, pin, endpoint, body, call_tag=own)

    async def _conference(self, channel_id: ChannelId) -> tuple[str, str, str]:
        """(node, alias, host PIN) of the channel's conference."""
        settings = self._state.settings
        if not settings.pexip_node:
            raise EngineUnavailableError(reader()("refusal.not_configured"))
        alias = alias_for_channel(settings.alias_prefix, channel_id)
        return settings.pexip_node, alias, (await self._state.pins_for(channel_id)).host_pin

    async def events(self, channel_id: ChannelId) -> AsyncIterator[tuple[str, Any]]:
        """The conference's event stream as meetbridge's chair (client_api.events)."""
        node, alias, pin = await self._conference(channel_id)
        own = make_own_tag(self._call_tags, channel_id)
        async for item in self._api.events(node, alias, pin, own):
            yield item

    async def keep_alive(self, channel_id: ChannelId) -> float:
        node, alias, pin = await self._conference(channel_id)
        return await self._api.keep_alive(
            node, alias, pin, make_own_tag(self._call_tags, channel_id)
        )

    def own_participant(self, channel_id: ChannelId) -> str:
        settings = self._state.settings
        alias = alias_for_channel(settings.alias_prefix, channel_id)
        return self._api.participant_of(settings.pexip_node, alias)

    async def set_role(self, channel_id: ChannelId, leg_uuid: str, role: str) -> None:
        await self.act(channel_id, f"participants/{leg_uuid}/role", {"role": role})

    async def release(self, channel_id: ChannelId) -> None:
        """The meeting ended: give back meetbridge's chair token."""
        settings = self._state.settings
        if settings.pexip_node:
            alias = alias_for_channel(settings.alias_prefix, channel_id)
            await self._api.release(settings.pexip_node, alias)

    # --- HostControls (/meet leave, host, end) -------------------------------------------------

    async def host_of(self, channel_id: ChannelId) -> UserId | None:
        return roles.host_user(await self.meeting(channel_id))

    async def present_users(self, channel_id: ChannelId) -> list[UserId]:
        return roles.present_users(await self.meeting(channel_id))

    async def remove_user(self, channel_id: ChannelId, user_id: UserId) -> int:
        removed = 0
        for leg in roles.legs_of_user(await self.meeting(channel_id), user_id):
            try:
                await self.act(channel_id, f"participants/{leg.uuid}/disconnect")
            except ClientApiError as exc:
                if exc.status == 404:
                    continue  # it left meanwhile: what was asked for
                raise EngineUnavailableError(reader()("engine.pexip_unreachable")) from exc
            removed += 1
        await self.withdraw_host(channel_id, user_id)  # out of the meeting: no longer its host
        return removed

    async def hand_host(self, channel_id: ChannelId, user_id: UserId) -> None:
        """The user's legs become chair and every other chair leg guest: handed, not shared."""
        meeting = await self.meeting(channel_id)
        mine = [leg for leg in roles.legs_of_user(meeting, user_id) if leg.has_media]
        if not mine:
            raise EngineUnavailableError(reader()("meet.member_gone"))
        others = [
            leg
            for leg in (meeting.legs.values() if meeting is not None else ())
            if leg.role == CHAIR and leg.has_media and leg.user_id != user_id
        ]
        await self.record_host(channel_id, user_id, only=True)
        try:
            for leg in mine:
                await self.set_role(channel_id, leg.uuid, CHAIR)
            for leg in others:
                await self.set_role(channel_id, leg.uuid, GUEST)
        except ClientApiError as exc:
            log.warning("pexip.hand_host_failed", channel_id=channel_id, error=str(exc))
            raise EngineUnavailableError(reader()("engine.pexip_unreachable")) from exc

    async def end(self, channel_id: ChannelId) -> bool:
        """Disconnect everyone (the conference's ``disconnect``); True once asked."""
        try:
            await self.act(channel_id, "disconnect")
        except ClientApiError as exc:
            if exc.status == 404:
                return True  # no such conference: already over
            raise EngineUnavailableError(reader()("engine.pexip_unreachable")) from exc
        await self.release(channel_id)
        return True


def _page_basics(node: str, channel: ChannelInfo, alias: str, name: str) -> dict[str, object]:
    """What the meeting page needs for any Pexip participant (web/CONTRACT.md)."""
    return {
        "engine": NAME,
        "host": f"https://{node}",
        "node": node,
        "alias": alias,
        "displayName": name,
        "channelTitle": channel.title,
        "conversation": channel.is_conversation,
    }
