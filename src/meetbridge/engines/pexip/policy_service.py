"""Answering Infinity's external-policy requests.

Everything an answer needs is in memory (settings, channel filter, PINs, the channel cache); only
a channel or user not seen recently costs a Mattermost look-up, bounded by a timeout well inside
Infinity's 5 s (see chat/mattermost/directory.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from meetbridge.clock import Clock
from meetbridge.domain.access import Access, channel_access
from meetbridge.domain.aliases import channel_from_alias, channel_from_service_tag
from meetbridge.domain.call_tags import TagSigner, user_from_call_tag
from meetbridge.domain.guest_links import (
    LinkState,
    guest_name,
    link_of_guest_tag,
    marked_as_guest,
)
from meetbridge.domain.users import display_name
from meetbridge.engines.pexip import policy as answers
from meetbridge.engines.pexip.policy import PolicyAnswer
from meetbridge.ports import ChannelDirectory, DirectoryUnavailableError, UserDirectory
from meetbridge.services.shared_state import SharedState
from meetbridge.store import guest_links_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)


class PolicyService:
    def __init__(
        self,
        state: SharedState,
        channels: ChannelDirectory,
        users: UserDirectory,
        call_tags: TagSigner,
        database: Database,
        clock: Clock,
    ) -> None:
        self._database = database
        self._clock = clock
        self._state = state
        self._channels = channels
        self._users = users
        self._call_tags = call_tags

    async def service_configuration(self, query: Mapping[str, str]) -> PolicyAnswer:
        settings = self._state.settings
        channel_id = channel_from_alias(query.get("local_alias", ""), settings.alias_prefix)
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
        call_tag = query.get("call_tag", "")
        if not call_tag:
            return answers.participant_unchanged()
        settings = self._state.settings
        channel_id = channel_from_service_tag(query.get("service_tag", "")) or channel_from_alias(
            query.get("service_name", "") or query.get("local_alias", ""), settings.alias_prefix
        )
        if channel_id is None:
            return answers.participant_unchanged()
        link_id = link_of_guest_tag(self._call_tags, call_tag, channel_id)
        if link_id is not None:
            return await self._guest(link_id, query.get("remote_display_name", ""))
        user_id = user_from_call_tag(self._call_tags, call_tag, channel_id)
        if user_id is None:
            return answers.participant_unchanged()
        try:
            user = await self._users.user(user_id)
        except DirectoryUnavailableError:
            log.warning("policy.user_lookup_unavailable", user_id=user_id)
            return answers.participant_unchanged()
        if user is None:
            return answers.participant_unchanged()
        return answers.participant_named(display_name(user, settings.display_name))

    async def _guest(self, link_id: str, typed_name: str) -> PolicyAnswer:
        """A guest from a guest link: named "<name> (guest)" while the link is in force."""
        async with self._database.read() as conn:
            link = await guest_links_repo.get(conn, link_id)
        if link is None or link.state(self._clock.now()) is not LinkState.ACTIVE:
            return answers.participant_rejected()
        return answers.participant_named(marked_as_guest(guest_name(typed_name) or "Guest"))
