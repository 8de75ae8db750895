"""Who is host in a Pexip meeting: pure rules over the meeting as the event sink reported it.

meetbridge decides it, from the member's signed call tag, when Infinity asks for the leg's
properties (engines/pexip/policy_service.py); the PIN a browser carries is always the guest PIN
and decides nothing:

* in a direct message both people are hosts, as on a phone call;
* system admins and channel admins are hosts whenever they join (they may take host);
* otherwise the first one in is host, and whoever joins while a host is present is a guest.

If the last host leaves, the member present longest is promoted (``successor``), because
Infinity ends a meeting of guests only a minute after its last host left
(docs.pexip.com/admin/automatically_terminate.htm, "Guests-only timeout").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from meetbridge.domain.ids import UserId
from meetbridge.domain.meetings import Leg, Meeting

CHAIR, GUEST = "chair", "guest"  # Infinity's role names in events and the client API
USER_PERSON = "user:"  # how Leg.person names a Mattermost user


class MeetingRole(StrEnum):
    HOST = "host"
    GUEST = "guest"


def join_role(*, is_direct: bool, is_admin: bool, host_present: bool) -> MeetingRole:
    """The role meetbridge gives a member as they join."""
    if is_direct or is_admin or not host_present:
        return MeetingRole.HOST
    return MeetingRole.GUEST


def _media_legs(meeting: Meeting | None) -> list[Leg]:
    if meeting is None or meeting.is_over:
        return []
    return [leg for leg in meeting.legs.values() if leg.has_media]


def host_present(meeting: Meeting | None) -> bool:
    """Whether someone with media is in the meeting as chair."""
    return any(leg.role == CHAIR for leg in _media_legs(meeting))


def host_user(meeting: Meeting | None) -> UserId | None:
    """The Mattermost user who has been chair longest, if any."""
    chairs = [leg for leg in _media_legs(meeting) if leg.role == CHAIR and leg.user_id]
    earliest = min(chairs, key=lambda leg: leg.joined_at, default=None)
    return None if earliest is None else earliest.user_id


def user_is_chair(meeting: Meeting | None, user_id: UserId) -> bool:
    return any(leg.role == CHAIR and leg.user_id == user_id for leg in _media_legs(meeting))


def present_users(meeting: Meeting | None) -> list[UserId]:
    return sorted({leg.user_id for leg in _media_legs(meeting) if leg.user_id})


def legs_of_user(meeting: Meeting | None, user_id: UserId) -> list[Leg]:
    """Every leg of the user (media or control), the ones a removal must disconnect."""
    if meeting is None or meeting.is_over:
        return []
    return [leg for leg in meeting.legs.values() if leg.user_id == user_id]


@dataclass(frozen=True, slots=True)
class Succession:
    """Who becomes host now that none is present: the legs to promote, and their name."""

    person: str
    display_name: str
    legs: tuple[str, ...]


def successor(meeting: Meeting | None) -> Succession | None:
    """The person present longest, when no host is present and a guest is; else None.

    Only guests are promoted: a leg still entering its PIN (role "unknown") has not joined.
    """
    legs = _media_legs(meeting)
    if any(leg.role == CHAIR for leg in legs):
        return None
    guests = [leg for leg in legs if leg.role == GUEST]
    first = min(guests, key=lambda leg: (leg.joined_at, leg.uuid), default=None)
    if first is None:
        return None
    mine = sorted(leg.uuid for leg in guests if leg.person == first.person)
    return Succession(first.person, first.display_name, tuple(mine))


def legs_to_mute_on_join(conversation: bool, joined: Iterable[Leg]) -> list[str]:
    """The new legs Infinity should mute as they join: every WebRTC leg with media in a channel
    (as in Calls: muted on join in channels, unmuted in direct and group messages).

    Only WebRTC: Webapp3 mirrors a server-side mute on its own microphone and lets the person
    unmute themself (docs.pexip.com/admin/muting_participant.htm, "Administrative versus local
    muting"); a SIP or H.323 guest could not undo it.
    """
    if conversation:
        return []
    return [
        leg.uuid
        for leg in joined
        if leg.has_media and not leg.is_muted and leg.protocol.lower() == "webrtc"
    ]
