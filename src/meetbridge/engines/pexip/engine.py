"""Pexip Infinity as a MeetingEngine: nothing to prepare (the policy server answers when a node
asks), a join leads to meetbridge's page with the Pexip client configuration or to Webapp3."""

from __future__ import annotations

from meetbridge.domain.aliases import alias_for_channel
from meetbridge.domain.call_tags import TagSigner, make_call_tag
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.pexip.webapp3 import webapp3_url
from meetbridge.ports import (
    Capability,
    EngineUnavailableError,
    JoinRequest,
    JoinTarget,
)
from meetbridge.services.shared_state import SharedState

NAME = "pexip"
NOT_CONFIGURED = "meetbridge has no Pexip Infinity server configured yet; ask an admin."


class PexipEngine:
    name = NAME
    title = "Pexip Infinity"
    capabilities = frozenset({Capability.EVENTS, Capability.EMBEDDED_PAGE, Capability.PINS})

    def __init__(self, state: SharedState, call_tags: TagSigner) -> None:
        self._state = state
        self._call_tags = call_tags

    def missing_configuration(self) -> str | None:
        return None if self._state.settings.pexip_node else "pexip_node"

    async def prepare(self, channel: ChannelInfo, starter: UserId) -> None:
        return None  # the policy server answers when a node asks; the page says if unset

    async def join_target(self, request: JoinRequest) -> JoinTarget:
        settings = self._state.settings
        if not settings.pexip_node:
            raise EngineUnavailableError(NOT_CONFIGURED)
        channel, name = request.channel, request.display_name
        alias = alias_for_channel(settings.alias_prefix, channel.id)
        pins = await self._state.pins_for(channel.id)
        webapp3 = webapp3_url(settings.pexip_node, settings.webapp_path, alias, name, pins.host_pin)
        # As in Calls: muted when joining a channel, unmuted in a direct or group message.
        start_muted = not channel.is_conversation
        config: dict[str, object] = {
            "engine": NAME,
            "host": f"https://{settings.pexip_node}",
            "node": settings.pexip_node,
            "alias": alias,
            "displayName": name,
            "pin": pins.host_pin,
            "callTag": make_call_tag(self._call_tags, channel.id, request.user_id),
            "startMuted": start_muted,
            "channelTitle": channel.title,
            "conversation": channel.is_conversation,
            "directMedia": channel.is_direct and settings.direct_media_dms,
            "webapp3Url": webapp3,
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

    async def end(self, channel_id: ChannelId) -> bool:
        return False  # Infinity ends a meeting when its last participant leaves
