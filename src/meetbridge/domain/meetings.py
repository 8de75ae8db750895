"""Meeting state and how engine reports change it.

A meeting is what happens in one channel between its start and its end. Engines report what they
see as a few neutral facts (a conference started or ended on a node, a participant leg connected,
changed or disconnected); the functions here fold those facts into the meeting and say what
changed, as domain events the services turn into cards, statuses and ringing.

Several media nodes may host shares of one conference: a meeting ends only when every node that
reported it has ended it. A person may have several legs (Pexip's web app opens an API leg and a
media leg; someone may join from two devices); the roster shows people, not legs, and only legs
that carry media count.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field, replace
from typing import TypeVar

from meetbridge.domain.ids import ChannelId, UserId

# --- what engines report ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConferenceStarted:
    conference: str
    channel_id: ChannelId
    node: str
    at: float


@dataclass(frozen=True, slots=True)
class ConferenceEnded:
    conference: str
    channel_id: ChannelId
    node: str
    at: float


@dataclass(frozen=True, slots=True)
class LegReport:
    """A participant leg as a node sees it. ``None`` fields were absent from a partial update."""

    uuid: str
    display_name: str | None = None
    role: str | None = None
    call_tag: str | None = None
    user_id: UserId | None = None
    protocol: str | None = None
    has_media: bool | None = None
    is_muted: bool | None = None
    is_presenting: bool | None = None


@dataclass(frozen=True, slots=True)
class LegConnected:
    conference: str
    channel_id: ChannelId
    node: str
    at: float
    leg: LegReport


@dataclass(frozen=True, slots=True)
class LegUpdated:
    conference: str
    channel_id: ChannelId
    node: str
    at: float
    leg: LegReport


@dataclass(frozen=True, slots=True)
class LegDisconnected:
    conference: str
    channel_id: ChannelId
    node: str
    at: float
    uuid: str


EngineReport = ConferenceStarted | ConferenceEnded | LegConnected | LegUpdated | LegDisconnected


# --- state -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Leg:
    uuid: str
    node: str
    display_name: str
    role: str
    call_tag: str
    user_id: UserId | None
    protocol: str
    has_media: bool
    is_muted: bool
    is_presenting: bool
    joined_at: float

    @property
    def person(self) -> str:
        """Who this leg belongs to: the Mattermost user when known, else the tag or name."""
        if self.user_id:
            return f"user:{self.user_id}"
        if self.call_tag:
            return f"tag:{self.call_tag}"
        return f"name:{self.display_name}"


@dataclass(frozen=True, slots=True)
class Participant:
    """A person in the meeting, merged from their legs with media."""

    person: str
    display_name: str
    role: str
    user_id: UserId | None
    call_tag: str
    protocol: str
    is_muted: bool
    is_presenting: bool
    joined_at: float


@dataclass(slots=True)
class Attendee:
    person: str
    display_name: str
    user_id: UserId | None
    first_joined_at: float
    last_left_at: float | None = None


@dataclass(slots=True)
class Meeting:
    conference: str
    channel_id: ChannelId
    started_at: float
    nodes: set[str] = field(default_factory=set)
    legs: dict[str, Leg] = field(default_factory=dict)
    attendees: dict[str, Attendee] = field(default_factory=dict)
    peak_participants: int = 0
    ended_at: float | None = None
    id: int | None = None
    topic: str | None = None
    started_by: UserId | None = None
    version: int = 0  # of the stored row this state was read from or last written as
    # The legs (uuids) and attendees (persons) changed since the meeting was last stored: only
    # those are written, so an event costs the same whatever the meeting's size or history.
    changed_legs: set[str] = field(default_factory=set, repr=False, compare=False)
    changed_attendees: set[str] = field(default_factory=set, repr=False, compare=False)
    # Which legs belong to whom, and how many legs with media each person has; derived from
    # ``legs`` (rebuilt on first use, kept up to date by put_leg and drop_leg, not stored).
    _by_person: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)
    _media_legs: dict[str, int] | None = field(default=None, repr=False, compare=False)

    @property
    def is_over(self) -> bool:
        return self.ended_at is not None

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)

    def participants(self) -> list[Participant]:
        """People currently in the meeting with media, earliest first."""
        earliest = _earliest_media_legs(self.legs.values(), persons=None)
        return sorted((_participant(leg) for leg in earliest.values()), key=lambda p: p.joined_at)

    def people_present(self) -> set[str]:
        return {leg.person for leg in self.legs.values() if leg.has_media}

    def present_count(self) -> int:
        """How many people are in the meeting with media (without scanning the legs)."""
        self._index()
        assert self._media_legs is not None
        return len(self._media_legs)

    def attendance_changed(self, person: str) -> None:
        self.changed_attendees.add(person)

    def mark_stored(self, version: int) -> None:
        """The meeting as it is now was written as ``version``: nothing is left to write."""
        self.version = version
        self.changed_legs.clear()
        self.changed_attendees.clear()

    def legs_of(self, persons: Set[str]) -> list[Leg]:
        """The legs of some people, without scanning everyone's (large meetings, many events)."""
        index = self._index()
        return [self.legs[uuid] for person in persons for uuid in index.get(person, ())]

    def put_leg(self, leg: Leg) -> None:
        old = self.legs.get(leg.uuid)
        index = self._index()
        if old is not None:
            index[old.person].discard(old.uuid)
            self._count_media(old, -1)
        self.legs[leg.uuid] = leg
        index.setdefault(leg.person, set()).add(leg.uuid)
        self._count_media(leg, +1)
        self.changed_legs.add(leg.uuid)

    def drop_leg(self, uuid: str) -> None:
        old = self.legs.pop(uuid)
        self._index()[old.person].discard(uuid)
        self._count_media(old, -1)
        self.changed_legs.add(uuid)

    def _count_media(self, leg: Leg, change: int) -> None:
        if not leg.has_media:
            return
        counts = self._media_legs
        assert counts is not None  # built with the index
        left = counts.get(leg.person, 0) + change
        if left > 0:
            counts[leg.person] = left
        else:
            counts.pop(leg.person, None)

    def _index(self) -> dict[str, set[str]]:
        if self._by_person is None or self._media_legs is None:
            self._by_person, self._media_legs = {}, {}
            for leg in self.legs.values():
                self._by_person.setdefault(leg.person, set()).add(leg.uuid)
                if leg.has_media:
                    self._media_legs[leg.person] = self._media_legs.get(leg.person, 0) + 1
        return self._by_person


# --- what changed ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeetingStarted:
    channel_id: ChannelId
    conference: str
    at: float


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    channel_id: ChannelId
    conference: str
    participant: Participant
    at: float


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    channel_id: ChannelId
    conference: str
    person: str
    display_name: str
    user_id: UserId | None
    at: float


@dataclass(frozen=True, slots=True)
class ParticipantChanged:
    channel_id: ChannelId
    conference: str
    participant: Participant


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    channel_id: ChannelId
    conference: str
    started_at: float
    ended_at: float
    attendees: tuple[Attendee, ...]
    peak_participants: int


MeetingEvent = (
    MeetingStarted | ParticipantJoined | ParticipantLeft | ParticipantChanged | MeetingEnded
)


@dataclass(frozen=True, slots=True)
class Transition:
    meeting: Meeting | None
    events: tuple[MeetingEvent, ...] = ()


# --- transitions -----------------------------------------------------------------------------


def apply_report(meeting: Meeting | None, report: EngineReport) -> Transition:
    """Fold one engine report into the channel's current meeting (``None``: no meeting running).

    ``meeting`` is changed in place and returned in the transition; an ended meeting is returned
    once with its ``ended_at`` set, and the caller starts afresh from ``None`` afterwards.
    """
    if isinstance(report, ConferenceStarted):
        return _conference_started(meeting, report)
    if isinstance(report, ConferenceEnded):
        return _conference_ended(meeting, report)
    if isinstance(report, LegConnected | LegUpdated):
        return _leg_seen(meeting, report)
    return _leg_gone(meeting, report)


def _start(report: EngineReport) -> tuple[Meeting, list[MeetingEvent]]:
    meeting = Meeting(
        conference=report.conference,
        channel_id=report.channel_id,
        started_at=report.at,
        nodes={report.node},
    )
    return meeting, [MeetingStarted(report.channel_id, report.conference, report.at)]


def _conference_started(meeting: Meeting | None, report: ConferenceStarted) -> Transition:
    if meeting is None:
        started, events = _start(report)
        return Transition(started, tuple(events))
    meeting.nodes.add(report.node)
    return Transition(meeting)


def _conference_ended(meeting: Meeting | None, report: ConferenceEnded) -> Transition:
    if meeting is None or report.node not in meeting.nodes:
        return Transition(meeting)
    events: list[MeetingEvent] = []
    gone = [leg for leg in meeting.legs.values() if leg.node == report.node]
    affected = {leg.person for leg in gone}
    before = _view(meeting, affected)
    meeting.nodes.discard(report.node)
    for leg in gone:
        meeting.drop_leg(leg.uuid)
    events += _roster_changes(meeting, affected, before, report.at)
    if not meeting.nodes:
        events += _end(meeting, report.at)
    return Transition(meeting, tuple(events))


def _leg_seen(meeting: Meeting | None, report: LegConnected | LegUpdated) -> Transition:
    events: list[MeetingEvent] = []
    if meeting is None:
        # A participant event can overtake its conference_started when nodes differ.
        meeting, events = _start(report)
    meeting.nodes.add(report.node)
    old = meeting.legs.get(report.leg.uuid)
    new = _new_leg(report) if old is None else _merge_leg(old, report.leg, report.node)
    affected = {new.person} if old is None else {old.person, new.person}
    before = _view(meeting, affected)
    meeting.put_leg(new)
    events += _roster_changes(meeting, affected, before, report.at)
    return Transition(meeting, tuple(events))


def _leg_gone(meeting: Meeting | None, report: LegDisconnected) -> Transition:
    if meeting is None or report.uuid not in meeting.legs:
        return Transition(meeting)
    affected = {meeting.legs[report.uuid].person}
    before = _view(meeting, affected)
    meeting.drop_leg(report.uuid)
    return Transition(meeting, tuple(_roster_changes(meeting, affected, before, report.at)))


def _new_leg(report: LegConnected | LegUpdated) -> Leg:
    leg = report.leg
    return Leg(
        uuid=leg.uuid,
        node=report.node,
        display_name=leg.display_name or "",
        role=leg.role or "unknown",
        call_tag=leg.call_tag or "",
        user_id=leg.user_id,
        protocol=leg.protocol or "",
        has_media=bool(leg.has_media),
        is_muted=bool(leg.is_muted),
        is_presenting=bool(leg.is_presenting),
        joined_at=report.at,
    )


def _merge_leg(leg: Leg, update: LegReport, node: str) -> Leg:
    """Apply a possibly partial snapshot: absent fields keep their previous value."""
    return replace(
        leg,
        node=node,
        display_name=_pick(update.display_name, leg.display_name),
        role=_pick(update.role, leg.role),
        call_tag=_pick(update.call_tag, leg.call_tag),
        user_id=update.user_id or leg.user_id,
        protocol=_pick(update.protocol, leg.protocol),
        has_media=_pick(update.has_media, leg.has_media),
        is_muted=_pick(update.is_muted, leg.is_muted),
        is_presenting=_pick(update.is_presenting, leg.is_presenting),
    )


_T = TypeVar("_T")


def _pick(new: _T | None, old: _T) -> _T:
    return old if new is None else new


def _earliest_media_legs(legs: Iterable[Leg], persons: Set[str] | None) -> dict[str, Leg]:
    """Each person's first leg with media (only of ``persons`` when given)."""
    earliest: dict[str, Leg] = {}
    for leg in legs:
        if not leg.has_media:
            continue
        person = leg.person
        if persons is not None and person not in persons:
            continue
        current = earliest.get(person)
        if current is None or leg.joined_at < current.joined_at:
            earliest[person] = leg
    return earliest


def _participant(leg: Leg) -> Participant:
    return Participant(
        person=leg.person,
        display_name=leg.display_name,
        role=leg.role,
        user_id=leg.user_id,
        call_tag=leg.call_tag,
        protocol=leg.protocol,
        is_muted=leg.is_muted,
        is_presenting=leg.is_presenting,
        joined_at=leg.joined_at,
    )


def _view(meeting: Meeting, persons: Set[str]) -> dict[str, Participant]:
    """The roster entries of just these people: a change touches one or two, not everyone."""
    earliest = _earliest_media_legs(meeting.legs_of(persons), persons)
    return {person: _participant(leg) for person, leg in earliest.items()}


def _roster_changes(
    meeting: Meeting, affected: Set[str], before: dict[str, Participant], at: float
) -> list[MeetingEvent]:
    """Compare the affected people before and after a change; keep attendance and peak."""
    after = _view(meeting, affected)
    events: list[MeetingEvent] = []
    for person, participant in after.items():
        previous = before.get(person)
        if previous is None:
            _record_attendance(meeting, participant, at)
            events.append(
                ParticipantJoined(meeting.channel_id, meeting.conference, participant, at)
            )
        elif previous != participant:
            events.append(ParticipantChanged(meeting.channel_id, meeting.conference, participant))
    for person, participant in before.items():
        if person not in after:
            attendee = meeting.attendees.get(person)
            if attendee is not None:
                attendee.last_left_at = at
                meeting.attendance_changed(person)
            events.append(
                ParticipantLeft(
                    meeting.channel_id,
                    meeting.conference,
                    person,
                    participant.display_name,
                    participant.user_id,
                    at,
                )
            )
    if any(isinstance(event, ParticipantJoined) for event in events):
        meeting.peak_participants = max(meeting.peak_participants, meeting.present_count())
    return events


def _record_attendance(meeting: Meeting, participant: Participant, at: float) -> None:
    meeting.attendance_changed(participant.person)
    attendee = meeting.attendees.get(participant.person)
    if attendee is None:
        meeting.attendees[participant.person] = Attendee(
            person=participant.person,
            display_name=participant.display_name,
            user_id=participant.user_id,
            first_joined_at=at,
        )
    else:
        attendee.display_name = participant.display_name or attendee.display_name
        attendee.last_left_at = None


def _end(meeting: Meeting, at: float) -> list[MeetingEvent]:
    for attendee in meeting.attendees.values():
        if attendee.last_left_at is None:
            attendee.last_left_at = at
            meeting.attendance_changed(attendee.person)
    meeting.ended_at = max(at, meeting.started_at)
    return [
        MeetingEnded(
            channel_id=meeting.channel_id,
            conference=meeting.conference,
            started_at=meeting.started_at,
            ended_at=meeting.ended_at,
            attendees=tuple(sorted(meeting.attendees.values(), key=lambda a: a.first_joined_at)),
            peak_participants=meeting.peak_participants,
        )
    ]
