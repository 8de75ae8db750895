"""Meetings as ``meetbridge meetings --json`` prints them."""

from __future__ import annotations

from typing import Any

from meetbridge.domain.meetings import Meeting


def attendance(meeting: Meeting) -> list[Any]:
    return sorted(meeting.attendees.values(), key=lambda a: a.first_joined_at)


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    return {
        "channel_id": meeting.channel_id,
        "conference": meeting.conference,
        "started_at": meeting.started_at,
        "ended_at": meeting.ended_at,
        "duration_seconds": meeting.duration,
        "peak_participants": meeting.peak_participants,
        "nodes": sorted(meeting.nodes),
        "participants": [
            {
                "display_name": p.display_name,
                "role": p.role,
                "call_tag": p.call_tag,
                "user_id": p.user_id,
                "protocol": p.protocol,
                "has_media": True,
                "is_muted": p.is_muted,
                "joined_at": p.joined_at,
            }
            for p in meeting.participants()
        ],
        "legs": [
            {
                "uuid": leg.uuid,
                "display_name": leg.display_name,
                "role": leg.role,
                "call_tag": leg.call_tag,
                "has_media": leg.has_media,
                "node": leg.node,
            }
            for leg in meeting.legs.values()
        ],
        "attendance": [
            {
                "display_name": a.display_name,
                "user_id": a.user_id,
                "first_joined_at": a.first_joined_at,
                "last_left_at": a.last_left_at,
            }
            for a in attendance(meeting)
        ],
    }
