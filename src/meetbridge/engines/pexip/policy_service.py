"""Answering Infinity's external-policy requests.

Everything an answer needs is in memory (settings, channel filter, PINs, the channel cache); only
a channel or user not seen recently costs a Mattermost look-up, bounded by a timeout well inside
Infinity's 5 s (see chat/mattermost/directory.py). A participant-properties answer also reads the
meeting in progress (who is chair) to decide whether a member is host.

Who may be in a meetbridge conference, and as what, is decided here from the leg's signed call
tag (issue 20): a member (``mbu``) under their Mattermost name, host or guest by the rules of
domain/roles.py, while they belong to the channel; a guest from a guest link (``mbg``) in force,
as a guest marked "(guest)"; meetbridge's own chair session (``mbs``). Any other leg (no tag, a
forged one, one from another channel) is refused: meetbridge hands PINs only to its own pages
and links, which always carry a tag, so such a leg can only come from a PIN that was passed on.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from meetbridge.clock import Clock
from meetbridge.domain.access import Access, channel_access
from meetbridge.domain.aliases import (
    channel_from_alias,
    channel_from_service_tag,
    split_member_alias,
)
from meetbridge.domain.call_tags import TagSigner, is_own_tag, user_from_call_tag
from meetbridge.domain.guest_links import (
    LinkState,
    guest_name,
    link_of_guest_tag,
    marked_as_guest,
)
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.roles import CHAIR, GUEST, MeetingRole
from meetbridge.domain.users import display_name
from meetbridge.engines.pexip import policy as answers
from meetbridge.engines.pexip.client_api import DISPLAY_NAME as OWN_NAME
from meetbridge.engines.pexip.engine import PexipEngine
from meetbridge.engines.pexip.policy import PolicyAnswer
from meetbridge.ports import Directory, DirectoryUnavailableError, UserDirectory
from meetbridge.services.shared_state import SharedState
from meetbridge.store import guest_links_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)


class PolicyService:
    def __init__(
        self,
        state: SharedState,
        channels: Directory,
        users: UserDirectory,
        call_tags: TagSigner,
        database: Database,
        clock: Clock,
        hosts: PexipEngine,
    ) -> None:
        self._hosts = hosts  # decides who is host, and records whom it made host
        self._database = database
        self._clock = clock
        self._state = state
        self._channels = channels
        self._users = users
        self._call_tags = call_tags

    async def service_configuration(self, query: Mapping[str, str]) -> PolicyAnswer:
        settings = self._state.settings
        dialled = query.get("local_alias", "")
        member_alias = split_member_alias(dialled, settings.alias_prefix)
        channel_id = channel_from_alias(dialled, settings.alias_prefix) or (
            member_alias[0] if member_alias is not None else None
        )  # a member's own alias leads to the channel's conference (its tag is checked later)
        if channel_id is None:
            return answers.fallback()
        try:
            channel = await self._channels.channel(channel_id)
        except DirectoryUnavailableError:
            log.warning("policy.channel_lookup_unavailable", channel_id=channel_id)
            return answers.fallback(answers.Outcome.UNAVAILABLE)
        access = channel_access(channel_id, channel, self._state.disallowed)
        if access is not Access.ALLOWED or channel is None:
            return answers.reject(access)
        pins = await self._state.pins_for(channel_id)
        return answers.conference(channel, pins, settings)

    async def participant_properties(self, query: Mapping[str, str]) -> PolicyAnswer:
        """Who the leg is, from its signed call tag (or the member alias it dialled), and so its
        name and role; a leg in one of our conferences without a valid tag is refused."""
        prefix = self._state.settings.alias_prefix
        channel_id = channel_from_service_tag(query.get("service_tag", "")) or channel_from_alias(
            query.get("service_name", ""), prefix
        )
        if channel_id is None:
            return answers.participant_unchanged()  # not a meetbridge conference
        in_alias = split_member_alias(query.get("local_alias", ""), prefix)
        from_alias = in_alias[1] if in_alias is not None and in_alias[0] == channel_id else ""
        call_tag = query.get("call_tag", "") or from_alias
        if is_own_tag(self._call_tags, call_tag, channel_id):
            return answers.participant_admitted(OWN_NAME, CHAIR)
        link_id = link_of_guest_tag(self._call_tags, call_tag, channel_id)
        if link_id is not None:
            return await self._guest(link_id, query.get("remote_display_name", ""))
        user_id = user_from_call_tag(self._call_tags, call_tag, channel_id)
        if user_id is None:
            log.info("policy.unverified_participant", channel_id=channel_id)
            return answers.participant_unverified()
        carried = call_tag if call_tag != query.get("call_tag", "") else ""
        return await self._member(channel_id, user_id, carried, query)

    async def _member(
        self, channel_id: ChannelId, user_id: UserId, carried: str, query: Mapping[str, str]
    ) -> PolicyAnswer:
        """A channel member (their tag is valid): named as Mattermost names them, host or guest
        as meetbridge decides now (domain/roles.py), refused if they left the channel."""
        try:
            channel = await self._channels.channel(channel_id)
            user = await self._users.user(user_id)
            member = await self._channels.is_member(channel_id, user_id)
        except DirectoryUnavailableError:
            # Their tag is ours, so they had a link: in as a guest under the name they bring.
            log.warning("policy.member_lookup_unavailable", user_id=user_id)
            name = guest_name(query.get("remote_display_name", "")) or "Guest"
            return answers.participant_admitted(name, GUEST, carried)
        if channel is None or user is None or not member:
            return answers.participant_rejected(answers.NOT_A_MEMBER)
        role = await self._hosts.join_role(channel, user_id)
        if role is MeetingRole.HOST:
            await self._hosts.record_host(channel_id, user_id)
        name = display_name(user, self._state.settings.display_name)
        return answers.participant_admitted(
            name, CHAIR if role is MeetingRole.HOST else GUEST, carried
        )

    async def _guest(self, link_id: str, typed_name: str) -> PolicyAnswer:
        """A guest from a guest link: a guest named "<name> (guest)" while the link is in force."""
        async with self._database.read() as conn:
            link = await guest_links_repo.get(conn, link_id)
        if link is None or link.state(self._clock.now()) is not LinkState.ACTIVE:
            return answers.participant_rejected(answers.LINK_ENDED)
        name = marked_as_guest(guest_name(typed_name) or "Guest")
        return answers.participant_admitted(name, GUEST)
