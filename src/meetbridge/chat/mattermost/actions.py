"""Interactive buttons whose clicks meetbridge can trust.

Mattermost does not sign button clicks: anyone who can reach the action URL can post one. Each
button's ``integration.context`` (which clients never see) therefore carries an HMAC over what
the button does, the channel its post is in and, where it matters, the one user it is for. A
click is honoured only if the signature matches and the channel and user Mattermost reports
for the click are the ones signed.

The signed message is the fields JSON-encoded, so that a field containing the old separator
("|", a Zoom topic is user text) cannot make two different buttons sign the same message.
Buttons signed before (no ``v`` in the context) fail closed: they live on in old posts, and
accepting them would keep the ambiguity alive; ``is_outdated`` tells their users why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from meetbridge.crypto import Signer


@dataclass(frozen=True, slots=True)
class VerifiedAction:
    action: str
    channel_id: str
    target: str
    user_id: str


class ActionSigner:
    def __init__(self, signer: Signer, action_url: str) -> None:
        self._signer = signer
        self.action_url = action_url

    def button(
        self,
        name: str,
        action: str,
        channel_id: str,
        target: str,
        user_id: str = "",
        style: str = "default",
    ) -> dict[str, Any]:
        context = {"action": action, "channel_id": channel_id, "target": target, "user_id": user_id}
        context["signature"] = self._signer.sign(_canonical(context))
        context["v"] = FORMAT
        return {
            "id": action.replace("_", "").replace("-", ""),  # old servers reject '_' and '-'
            "name": name,
            "type": "button",
            "style": style,
            "integration": {"url": self.action_url, "context": context},
        }

    def verify(self, context: Any, clicked_in: str, clicked_by: str) -> VerifiedAction | None:
        if not isinstance(context, dict) or context.get("v") != FORMAT:
            return None
        fields: dict[str, str] = {}
        for key in _SIGNED:
            value = context.get(key)
            if not isinstance(value, str):
                return None
            fields[key] = value
        signature = context.get("signature")
        if not isinstance(signature, str) or not self._signer.verify(_canonical(fields), signature):
            return None
        if fields["channel_id"] != clicked_in:
            return None
        if fields["user_id"] and fields["user_id"] != clicked_by:
            return None
        return VerifiedAction(
            fields["action"], fields["channel_id"], fields["target"], fields["user_id"]
        )

    @staticmethod
    def is_outdated(context: Any) -> bool:
        """Whether ``context`` is a button signed in the format before ``FORMAT``."""
        return isinstance(context, dict) and "signature" in context and "v" not in context


FORMAT = "2"
_SIGNED = ("action", "channel_id", "target", "user_id")


def _canonical(fields: dict[str, Any]) -> str:
    # A JSON array of strings has one reading; "button/2" keeps it apart from other purposes.
    # ensure_ascii: a lone surrogate in a forged field is escaped, not an encoding error.
    values = [str(fields[key]) for key in _SIGNED]
    return "button/2" + json.dumps(values, ensure_ascii=True, separators=(",", ":"))
