"""Call tags: how meetbridge recognises its own participants in policy requests and events.

The join link hands the browser a tag ``mbu.<user id>.<signature>``; Infinity echoes it as
``call_tag``. The signature binds the user to the channel, so a tag copied from one meeting is
worthless in another, and nobody can make up a tag that renames them as someone else.
meetbridge's own control-only chair session carries ``mbs.<signature>`` (bound to the channel).
"""

from __future__ import annotations

from typing import Protocol

from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id

CALL_TAG_PREFIX = "mbu"
OWN_TAG_PREFIX = "mbs"
_SIGNATURE_LENGTH = 24
# prefix, a 26-character user id and the signature: a tag of any other length is not ours.
CALL_TAG_LENGTH = len(CALL_TAG_PREFIX) + 1 + 26 + 1 + _SIGNATURE_LENGTH


class TagSigner(Protocol):
    def sign(self, message: str, length: int = ...) -> str: ...

    def verify(self, message: str, signature: str, length: int = ...) -> bool: ...


def _message(channel_id: ChannelId, user_id: UserId) -> str:
    return f"call-tag|{channel_id}|{user_id}"


def make_call_tag(signer: TagSigner, channel_id: ChannelId, user_id: UserId) -> str:
    signature = signer.sign(_message(channel_id, user_id), _SIGNATURE_LENGTH)
    return f"{CALL_TAG_PREFIX}.{user_id}.{signature}"


def user_from_call_tag(signer: TagSigner, tag: str, channel_id: ChannelId) -> UserId | None:
    """The user a tag was issued to for this channel, or None for anything else.

    The tag comes from whoever dialled in: any text, of any length, is answered with None.
    """
    if len(tag) != CALL_TAG_LENGTH or not tag.isascii():
        return None
    parts = tag.split(".")
    if len(parts) != 3 or parts[0] != CALL_TAG_PREFIX or not is_mattermost_id(parts[1]):
        return None
    user_id = UserId(parts[1])
    if signer.verify(_message(channel_id, user_id), parts[2], _SIGNATURE_LENGTH):
        return user_id
    return None


def make_own_tag(signer: TagSigner, channel_id: ChannelId) -> str:
    """The tag of meetbridge's own chair session in the channel's conference."""
    return f"{OWN_TAG_PREFIX}.{signer.sign(f'own-tag|{channel_id}', _SIGNATURE_LENGTH)}"


def is_own_tag(signer: TagSigner, tag: str, channel_id: ChannelId) -> bool:
    prefix, dot, signature = tag.partition(".")
    if prefix != OWN_TAG_PREFIX or not dot or not signature.isascii():
        return False
    return signer.verify(f"own-tag|{channel_id}", signature, _SIGNATURE_LENGTH)
