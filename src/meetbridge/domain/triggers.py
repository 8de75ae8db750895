"""The user a Mattermost ``trigger_id`` names.

Mattermost puts a trigger id in every command and button request it sends:
``base64(clientTriggerId:userId:unixMillis:base64(ECDSA signature))``. Only Mattermost can check
the signature, which it does when asked to open a dialog with the trigger, and it then shows the
dialog to that user alone. meetbridge reads the user first so that a request whose trigger
belongs to someone else is refused before anything is opened.
"""

from __future__ import annotations

import base64
import binascii

from meetbridge.domain.ids import UserId, is_mattermost_id

MAX_TRIGGER_LENGTH = 1024  # a real one is about 250 characters


def trigger_user(trigger_id: object) -> UserId | None:
    """The user id inside a well-formed trigger id; None for anything else (never raises)."""
    if not isinstance(trigger_id, str) or not 0 < len(trigger_id) <= MAX_TRIGGER_LENGTH:
        return None
    if not trigger_id.isascii():
        return None
    try:
        text = base64.b64decode(trigger_id, validate=True).decode("ascii")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    parts = text.split(":")
    if len(parts) != 4:
        return None
    client_trigger, user, millis, signature = parts
    if not (is_mattermost_id(client_trigger) and is_mattermost_id(user)):
        return None
    if not (millis.isdigit() and signature):
        return None
    return UserId(user)
