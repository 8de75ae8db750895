"""Mapping between Mattermost channels and the aliases Infinity dials.

alias = prefix + channel id, the form Pexip's own Mattermost plugin uses since mid-2024, so that
aliases (and Infinity-side local policy) keep working for existing deployments.

A member's own alias, ``<alias>.<call tag>``, leads to the same conference: Pexip's web app
(Webapp3) links carry a name and a PIN but no call tag (docs.pexip.com/clients/
infinity_connect_url.htm), so the personal link carries the tag in the alias it dials, and the
policy server reads it from ``local_alias`` (reference/pexip.md §2.3).
"""

from __future__ import annotations

import re

from meetbridge.domain.ids import ChannelId, is_mattermost_id

# Schemes Infinity may leave on local_alias (SIP/H.323 dial strings).
_SCHEME = re.compile(r"^(?:sips?|h323|tel|mssip|rtmp):", re.IGNORECASE)
SERVICE_TAG_PREFIX = "mattermost:"
PREFIX_PATTERN = r"[a-z0-9][a-z0-9._-]{0,31}"


def normalise_alias(raw: str) -> str:
    """Strip a URI scheme and an ``@domain`` suffix and lower-case: what a user meant to dial."""
    alias = _SCHEME.sub("", raw.strip())
    alias = alias.split("@", 1)[0]
    return alias.lower()


def alias_for_channel(prefix: str, channel_id: ChannelId) -> str:
    return f"{prefix}{channel_id}"


def channel_from_alias(raw_alias: str, prefix: str) -> ChannelId | None:
    """The channel an alias names, or None when the alias is not one of ours."""
    alias = normalise_alias(raw_alias)
    if not alias.startswith(prefix):
        return None
    candidate = alias[len(prefix) :]
    return ChannelId(candidate) if is_mattermost_id(candidate) else None


def alias_for_member(prefix: str, channel_id: ChannelId, call_tag: str) -> str:
    """The channel's alias with a member's call tag: the same conference, dialled by them."""
    return f"{prefix}{channel_id}.{call_tag}"


def split_member_alias(raw_alias: str, prefix: str) -> tuple[ChannelId, str] | None:
    """(channel, call tag) of an alias made by alias_for_member; None for any other alias.

    The tag is whatever follows: only its signature says whether it is one."""
    alias = normalise_alias(raw_alias)
    if not alias.startswith(prefix):
        return None
    channel, dot, tag = alias[len(prefix) :].partition(".")
    if not dot or not tag or not is_mattermost_id(channel):
        return None
    return ChannelId(channel), tag


def service_tag_for_channel(channel_id: ChannelId) -> str:
    return f"{SERVICE_TAG_PREFIX}{channel_id}"


def channel_from_service_tag(tag: str) -> ChannelId | None:
    if not tag.startswith(SERVICE_TAG_PREFIX):
        return None
    candidate = tag[len(SERVICE_TAG_PREFIX) :]
    return ChannelId(candidate) if is_mattermost_id(candidate) else None


def channel_of_conference(name: str, tag: str, prefix: str) -> ChannelId | None:
    """Which channel a conference reported by the event sink belongs to.

    The service tag is authoritative (it survives a change of alias prefix); the conference name
    is the fallback for events that carry no tag.
    """
    return channel_from_service_tag(tag) or channel_from_alias(name, prefix)
