"""Changes made in someone's name only once they confirm them in a Mattermost dialog.

Mattermost signs neither slash commands nor button clicks, and team admins can read the command
token, so a request may name any user. Mattermost does sign the ``trigger_id`` of each request
and opens a dialog through it only for the user it was made for. A change is therefore asked for
with a dialog whose ``state`` is a signed, short-lived, single-use claim (who, what, where);
only that user's clients ever see it, and only their submission of it applies the change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.store import confirmations_repo
from meetbridge.store.database import Database

PURPOSE = "confirm"
LIFETIME = 10 * 60.0  # a dialog may stay open while its user decides


class ConfirmationRefusedError(Exception):
    """The submission cannot apply anything; the message says why (shown to the user)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a confirmation dialog, once submitted by ``user_id``, is allowed to do."""

    user_id: UserId
    action: str
    channel_id: ChannelId
    target: str
    nonce: str = ""  # what makes each dialog's state usable once


class Confirmations:
    def __init__(self, codec: TokenCodec, database: Database, clock: Clock) -> None:
        self._codec = codec
        self._database = database
        self._clock = clock

    def state_for(self, claim: Claim) -> str:
        fields = {
            "u": claim.user_id,
            "a": claim.action,
            "c": claim.channel_id,
            "t": claim.target,
            "n": secrets.token_hex(16),
        }
        return self._codec.encode(PURPOSE, fields, self._clock.now(), LIFETIME)

    def check(self, state: str, submitted_by: str) -> Claim:
        """The claim in ``state`` if it is meetbridge's, current and ``submitted_by``'s."""
        now = self._clock.now()
        try:
            fields = self._codec.decode(state, PURPOSE, now)
        except TokenError as exc:
            raise ConfirmationRefusedError(
                "This confirmation is not valid (expired or not from meetbridge); "
                "run the command again."
            ) from exc
        claim = _claim(fields)
        if claim is None:
            raise ConfirmationRefusedError("This confirmation is not valid.")
        if claim.user_id != submitted_by:
            raise ConfirmationRefusedError("This confirmation was made for another user.")
        return claim

    async def use(self, claim: Claim) -> None:
        """Mark the claim used, on every replica; refused when it was used before."""
        async with self._database.transaction() as conn:
            first = await confirmations_repo.first_use(
                conn, claim.nonce, self._clock.now(), keep=LIFETIME + 60
            )
        if not first:
            raise ConfirmationRefusedError("This confirmation was already used.")


def _claim(fields: dict[str, Any]) -> Claim | None:
    values = [fields.get(key) for key in ("u", "a", "c", "t", "n")]
    if not all(isinstance(value, str) for value in values):
        return None
    user, action, channel, target, nonce = (str(value) for value in values)
    if not nonce:
        return None
    return Claim(UserId(user), action, ChannelId(channel), target, nonce)
