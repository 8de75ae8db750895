"""Infinity external-policy answers, as pure functions of what meetbridge knows.

Answer shapes (reference/pexip.md §2.4):

* a channel meeting: ``200 {"status": "success", "action": "continue", "result": {...conference}}``
* not our alias: ``404 {"status": "fail", "action": "continue", "result": {}}`` - Infinity falls
  back to its own configuration, as if no policy server were configured;
* a channel that may not meet: ``200 {"status": "success", "action": "reject", "result": {}}`` -
  the call is refused at once ("conference not found").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from meetbridge.domain.access import Access
from meetbridge.domain.aliases import alias_for_channel, service_tag_for_channel
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.pins import ChannelPins
from meetbridge.domain.settings import RuntimeSettings

MAX_STRING = 250  # Infinity's limit for string values in policy answers


class Outcome(StrEnum):
    CONFERENCE = "conference"
    NOT_OURS = "not_ours"
    REJECTED_UNKNOWN = "rejected_unknown"
    REJECTED_ARCHIVED = "rejected_archived"
    REJECTED_DISALLOWED = "rejected_disallowed"
    UNAVAILABLE = "unavailable"
    PARTICIPANT_NAMED = "participant_named"
    PARTICIPANT_UNCHANGED = "participant_unchanged"
    PARTICIPANT_REJECTED = "participant_rejected"
    OTHER_REQUEST = "other_request"


@dataclass(frozen=True, slots=True)
class PolicyAnswer:
    status_code: int
    body: dict[str, Any]
    outcome: Outcome


FALLBACK_BODY: dict[str, Any] = {"status": "fail", "action": "continue", "result": {}}
REJECT_BODY: dict[str, Any] = {"status": "success", "action": "reject", "result": {}}
UNCHANGED_BODY: dict[str, Any] = {"status": "success", "action": "continue", "result": {}}

_REJECTIONS = {
    Access.UNKNOWN: Outcome.REJECTED_UNKNOWN,
    Access.ARCHIVED: Outcome.REJECTED_ARCHIVED,
    Access.DISALLOWED: Outcome.REJECTED_DISALLOWED,
}


def fallback(outcome: Outcome = Outcome.NOT_OURS) -> PolicyAnswer:
    return PolicyAnswer(404, FALLBACK_BODY, outcome)


def reject(access: Access) -> PolicyAnswer:
    return PolicyAnswer(200, REJECT_BODY, _REJECTIONS[access])


def conference(channel: ChannelInfo, pins: ChannelPins, settings: RuntimeSettings) -> PolicyAnswer:
    """The conference a channel's alias stands for; stable for the channel except the PINs.

    A channel's meeting has hosts and guests (domain/roles.py): ``allow_guests`` with both PINs,
    and the PIN a member is given decides their role. In a direct message everyone is host:
    no guest PIN, ``allow_guests`` false ("everyone is Host", reference/pexip.md §2.5).
    """
    alias = alias_for_channel(settings.alias_prefix, channel.id)
    has_guests = not channel.is_direct
    result: dict[str, Any] = {
        "service_type": "conference",
        "name": alias,
        "service_tag": service_tag_for_channel(channel.id),
        "description": channel.title[:MAX_STRING],
        "pin": pins.host_pin,
        "allow_guests": has_guests,
        "view": settings.conference_layout,
        "enable_overlay_text": settings.enable_overlay_text,
        "enable_chat": settings.enable_chat,
        "crypto_mode": settings.crypto_mode or None,
        "locked": False,
        "direct_media": "best_effort"
        if channel.is_direct and settings.direct_media_dms
        else "never",
    }
    if has_guests:
        result["guest_pin"] = pins.guest_pin
    if settings.ivr_theme_name:
        result["ivr_theme_name"] = settings.ivr_theme_name
    return PolicyAnswer(
        200, {"status": "success", "action": "continue", "result": result}, Outcome.CONFERENCE
    )


def participant_named(display_name: str) -> PolicyAnswer:
    body = {
        "status": "success",
        "action": "continue",
        "result": {"remote_display_name": display_name[:MAX_STRING]},
    }
    return PolicyAnswer(200, body, Outcome.PARTICIPANT_NAMED)


def participant_unchanged() -> PolicyAnswer:
    return PolicyAnswer(200, UNCHANGED_BODY, Outcome.PARTICIPANT_UNCHANGED)


def participant_rejected() -> PolicyAnswer:
    """This participant only is refused (a guest whose link was revoked or expired);
    reference/pexip.md §2.6: ``action=reject`` on participant properties [rep]."""
    return PolicyAnswer(200, REJECT_BODY, Outcome.PARTICIPANT_REJECTED)
