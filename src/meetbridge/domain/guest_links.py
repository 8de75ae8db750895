"""External guests of a channel's Pexip meeting: links a channel admin makes, that expire and
can be revoked, and the names guests type.

A guest link names a link record, never a PIN; the guest PIN reaches the guest's browser only
once they have typed a name on meetbridge's page. Guests are marked as such where meetbridge
names them for Infinity (the participant-properties answer), so every roster and the meeting
card show it.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.call_tags import TagSigner
from meetbridge.domain.ids import ChannelId, UserId

DEFAULT_HOURS = 24
MAX_HOURS = 7 * 24
MAX_NAME = 64
GUEST_SUFFIX = " (guest)"
GUEST_TAG_PREFIX = "mbg"
_SIGNATURE_LENGTH = 24
_LINK_ID = re.compile(r"[0-9a-f]{16}")
_SPACES = re.compile(r"\s+")


class LinkState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class GuestLink:
    id: str
    channel_id: ChannelId
    created_by: UserId
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    revoked_by: str | None = None

    def state(self, now: float) -> LinkState:
        if self.revoked_at is not None:
            return LinkState.REVOKED
        return LinkState.ACTIVE if now < self.expires_at else LinkState.EXPIRED


def new_link_id() -> str:
    return secrets.token_hex(8)


def is_link_id(value: object) -> bool:
    return isinstance(value, str) and bool(_LINK_ID.fullmatch(value))


def parse_hours(argument: str) -> int | None:
    """``/meet guest-link [hours]``: the lifetime in whole hours (default a day, at most a
    week); None when the argument is not such a number."""
    text = argument.strip()
    if not text:
        return DEFAULT_HOURS
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        return None
    hours = int(text)
    return hours if 1 <= hours <= MAX_HOURS else None


def guest_name(raw: object) -> str | None:
    """The name a guest typed, made safe to show: control and format characters removed,
    spaces collapsed, at most MAX_NAME characters; None when nothing is left."""
    if not isinstance(raw, str):
        return None
    kept = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")
    name = _SPACES.sub(" ", kept).strip()[:MAX_NAME].strip()
    return name or None


def marked_as_guest(name: str) -> str:
    base = name.removesuffix(GUEST_SUFFIX).strip() or "Guest"
    return f"{base}{GUEST_SUFFIX}"


def _message(channel_id: ChannelId, link_id: str) -> str:
    return f"guest-tag|{channel_id}|{link_id}"


def make_guest_tag(signer: TagSigner, channel_id: ChannelId, link_id: str) -> str:
    """The call tag of a guest who came through a link (no Mattermost user behind it)."""
    signature = signer.sign(_message(channel_id, link_id), _SIGNATURE_LENGTH)
    return f"{GUEST_TAG_PREFIX}.{link_id}.{signature}"


def link_of_guest_tag(signer: TagSigner, tag: str, channel_id: ChannelId) -> str | None:
    """The guest link a call tag was made for in this channel; None if it is not one."""
    if len(tag) > 64 or not tag.isascii():
        return None
    parts = tag.split(".")
    if len(parts) != 3 or parts[0] != GUEST_TAG_PREFIX or not is_link_id(parts[1]):
        return None
    if not signer.verify(_message(channel_id, parts[1]), parts[2], _SIGNATURE_LENGTH):
        return None
    return parts[1]
