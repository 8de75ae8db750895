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
    PARTICIPANT_HOST = "participant_host"
    PARTICIPANT_UNCHANGED = "participant_unchanged"
    PARTICIPANT_REJECTED = "participant_rejected"
    PARTICIPANT_UNVERIFIED = "participant_unverified"
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

    Every meeting, a direct message's too, has hosts and guests: ``allow_guests`` with both PINs
    (reference/pexip.md §2.5). Browsers are only ever given the guest PIN; who is host is
    meetbridge's answer to the participant-properties request (domain/roles.py), and the host
    PIN stays between meetbridge and Infinity (meetbridge's own chair session uses it).
    """
    alias = alias_for_channel(settings.alias_prefix, channel.id)
    result: dict[str, Any] = {
        "service_type": "conference",
        "name": alias,
        "service_tag": service_tag_for_channel(channel.id),
        "description": channel.title[:MAX_STRING],
        "pin": pins.host_pin,
        "guest_pin": pins.guest_pin,
        "allow_guests": True,
        "view": settings.conference_layout,
        "enable_overlay_text": settings.enable_overlay_text,
        "enable_chat": settings.enable_chat,
        "crypto_mode": settings.crypto_mode or None,
        "locked": False,
        "direct_media": "best_effort"
        if channel.is_direct and settings.direct_media_dms
        else "never",
    }
    if settings.ivr_theme_name:
        result["ivr_theme_name"] = settings.ivr_theme_name
    return PolicyAnswer(
        200, {"status": "success", "action": "continue", "result": result}, Outcome.CONFERENCE
    )


def participant_admitted(display_name: str, role: str, call_tag: str = "") -> PolicyAnswer:
    """A meetbridge participant, under the name meetbridge gives them and the role meetbridge
    decided (``chair`` or ``guest``), whatever PIN they entered: for a WebRTC leg Infinity asks
    after its PIN, and the answer's role replaces the one the PIN gave (reference/pexip.md §2.6;
    docs.pexip.com/admin/external_policy_requests.htm, "Participant properties": "call
    properties, such as their display name or role, [are] changed before they join the
    conference"). ``call_tag`` replaces the leg's tag (one that came in its alias), so that
    events and the status API carry it."""
    result: dict[str, Any] = {
        "remote_display_name": display_name[:MAX_STRING],
        "preauthenticated_role": role,
    }
    if call_tag:
        result["call_tag"] = call_tag
    body = {"status": "success", "action": "continue", "result": result}
    outcome = Outcome.PARTICIPANT_HOST if role == "chair" else Outcome.PARTICIPANT_NAMED
    return PolicyAnswer(200, body, outcome)


def participant_unchanged() -> PolicyAnswer:
    return PolicyAnswer(200, UNCHANGED_BODY, Outcome.PARTICIPANT_UNCHANGED)


def participant_rejected(
    reason: str, outcome: Outcome = Outcome.PARTICIPANT_REJECTED
) -> PolicyAnswer:
    """This participant only is refused, with the reason Infinity shows them (reference/
    pexip.md §2.6: ``action=reject`` with ``reject_reason`` on participant properties [rep])."""
    body = {"status": "success", "action": "reject", "result": {"reject_reason": reason}}
    return PolicyAnswer(200, body, outcome)


UNVERIFIED = (
    "This meeting admits only people who join through meetbridge: open the meeting from "
    "Mattermost, or ask for a guest link."
)
LINK_ENDED = "Your guest link is no longer valid: ask the channel for a new one."
NOT_A_MEMBER = "Only members of this channel can join its meeting."


def participant_unverified() -> PolicyAnswer:
    """A leg in a meetbridge conference without a valid meetbridge call tag."""
    return participant_rejected(UNVERIFIED, Outcome.PARTICIPANT_UNVERIFIED)
