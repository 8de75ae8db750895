"""How meetbridge's messages look in Mattermost: cards, ringing messages, help.

Posts use the custom type ``custom_meetbridge`` with a plain ``message`` and message attachments,
which every client renders without a plugin (a companion plugin may later draw its own). Props
carry what a program needs to recognise the post (``meetbridge_meeting_id``, ``meeting_status``).

Every piece of user-controlled text (topics, display names, channel names) goes through
``escape_markdown`` (``plain_text`` for the fallback, which is not Markdown), so it shows
literally and mentions nobody; join links arrive validated (the worker checks the engine's host).
"""

from __future__ import annotations

import re
from typing import Any

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.domain.markdown import escape_markdown as md
from meetbridge.domain.markdown import plain_text
from meetbridge.domain.views import MeetingCard, RingCard, RingState, describe_duration

POST_TYPE = "custom_meetbridge"
LIVE_COLOUR = "#3DB887"
ENDED_COLOUR = "#8D93A5"
RING_COLOUR = "#1C58D9"
NOT_AVAILABLE = "Conference not available for this channel"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(md(name) for name in names) if names else "nobody yet"


def _unescape(markdown: str) -> str:
    """The fallback is shown as plain text: without the backslashes escaping added."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("**", "")


def _people(card: MeetingCard) -> list[dict[str, str]]:
    """Who is (or was) in the meeting, with their Mattermost user id where they have one."""
    names, ids = (
        (card.attendees, card.attendee_ids)
        if card.is_over
        else (card.participants, card.participant_ids)
    )
    return [
        {"name": name, "user_id": ids[index] if index < len(ids) else ""}
        for index, name in enumerate(names)
    ]


def card_post(card: MeetingCard, buttons: ActionSigner, stable_link: str = "") -> dict[str, Any]:
    """The message, props and type of a meeting card. ``stable_link``: the channel's lasting
    meeting link, the card's ``meeting_link`` for engines joined through meetbridge."""
    starter = md(card.started_by) if card.started_by else "Someone"
    topic = f": {md(card.topic)}" if card.topic else ""
    fields: list[dict[str, Any]] = [
        {"title": "Started by", "value": starter, "short": True},
        {"title": "Engine", "value": card.engine, "short": True},
    ]
    if card.meeting_number:
        fields.append({"title": "Meeting ID", "value": md(card.meeting_number), "short": True})
    # Someone may be in the engine's own app, where the card's Leave cannot reach them.
    own_apps = card.own_apps and card.join_url is None and not card.is_over
    if card.is_over:
        lasted = describe_duration(card.duration or 0.0)
        message = f"Video meeting ended{topic}. It lasted {lasted}."
        fields.append({"title": "Duration", "value": lasted, "short": True})
        if card.roster:
            fields.append(
                {
                    "title": f"Attended by ({len(card.attendees)})",
                    "value": _names(card.attendees),
                    "short": False,
                }
            )
        attachment: dict[str, Any] = {
            "fallback": plain_text(_unescape(message)),
            "color": ENDED_COLOUR,
            "title": f"Meeting ended{topic}",
            "text": f"Lasted {lasted}.",
            "fields": fields,
        }
        status = "ENDED"
    else:
        message = f"{starter} started a video meeting{topic}."
        if card.roster:
            fields.append(
                {
                    "title": f"In the meeting ({len(card.participants)})",
                    "value": _names(card.participants),
                    "short": False,
                }
            )
        target = str(card.meeting_id)
        if card.join_url is not None:
            actions = [
                buttons.button(
                    "Join", f"{card.engine_key}join", card.channel_id, target, style="primary"
                )
            ]
            link = (
                f"[Join Meeting]({card.join_url})"
                if card.join_url
                else "Use the Join button to take part."
            )
        else:
            actions = [
                buttons.button("Join", "join", card.channel_id, target, style="primary"),
                buttons.button("Leave", "leave", card.channel_id, target),
            ]
            if card.can_end:  # shown to everyone; only the host or an admin may confirm it
                actions.append(
                    buttons.button("End", "end", card.channel_id, target, style="danger")
                )
            link = "Use /meet join to take part."
        attachment = {
            "fallback": plain_text(_unescape(f"{message} {link}")),
            "color": LIVE_COLOUR,
            "title": f"Video meeting in progress{topic}",
            "fields": fields,
            "actions": actions,
        }
        if card.join_url:
            attachment["text"] = link
        if own_apps:
            attachment["footer"] = (
                f"Leave closes meetbridge's meeting page. In {card.engine}'s own app, "
                "leave with its Disconnect button."
            )
        status = "STARTED"
    link = card.join_url or stable_link
    return {
        "message": message,
        "type": POST_TYPE,
        "props": {
            "attachments": [attachment],
            "meetbridge_meeting_id": card.meeting_id,
            "meetbridge_card": card.key,
            # The Zoom plugin's props, so that anything reading meeting posts of any provider
            # (Mattermost's duplicate-meeting guard) understands meetbridge's too.
            "meeting_provider": card.engine,
            "meeting_status": status,
            "meeting_topic": card.topic or "",
            "meeting_creator_username": card.started_by_username or "",
            **({"meeting_link": link} if link else {}),
            "meeting_engine": card.engine,
            # What the companion plugin's card shows (plain values: React escapes them).
            "meeting_started_by": card.started_by or "",
            "meeting_started_at": round(card.started_at * 1000),
            "meeting_participants": _people(card) if card.roster else [],
            **({"meeting_own_apps": True} if own_apps else {}),
            **(
                {"meeting_duration": describe_duration(card.duration or 0.0)}
                if card.is_over
                else {}
            ),
            # Belt and braces: even an unescaped @all/@channel/@here would notify nobody.
            "disable_group_highlight": True,
        },
    }


def ring_post(ring: RingCard, channel_id: str, buttons: ActionSigner) -> dict[str, Any]:
    """The ringing message for one callee, posted in their direct channel with the bot."""
    where, caller = md(ring.conversation), md(ring.caller)
    if ring.state is RingState.RINGING:
        message = f":telephone_receiver: **{caller}** is calling you ({where})."
        target = str(ring.ring_id)
        attachment: dict[str, Any] = {
            "fallback": plain_text(
                _unescape(f"{message} Use /meet join in that conversation to answer.")
            ),
            "color": RING_COLOUR,
            "actions": [
                buttons.button("Join", "ring_join", channel_id, target, ring.callee_id, "primary"),
                buttons.button("Ignore", "ring_ignore", channel_id, target, ring.callee_id),
            ],
        }
    else:
        message = {
            RingState.MISSED: f":no_mobile_phones: Missed call from **{caller}** ({where}).",
            RingState.IGNORED: f"You ignored a call from **{caller}** ({where}).",
            RingState.ANSWERED: f"You joined the call with **{caller}** ({where}).",
        }[ring.state]
        attachment = {"fallback": plain_text(_unescape(message)), "color": ENDED_COLOUR}
    return {
        "message": message,
        "type": POST_TYPE,
        "props": {
            "attachments": [attachment],
            "meetbridge_ring_id": ring.ring_id,
            "meetbridge_ring": ring.key,
            "ring_state": ring.state.value,
            "disable_group_highlight": True,
        },
    }


HELP = """\
**/meet** — video meetings in this channel
* `/meet` or `/meet start [topic]` — start the channel's meeting, or join it if it is running
* `/meet join` — join the channel's meeting
* `/meet status` — who is in the meeting, and for how long
* `/meet link` — a lasting link to this channel's meeting, for members of the channel
* `/meet leave` — take all your devices out of the meeting (LiveKit, Pexip; you confirm first)
* `/meet end` — end the meeting for everyone (LiveKit, Pexip; its host or a system admin)
* `/meet host @user` — hand host to someone in the meeting (LiveKit, Pexip; its host or an admin)
* `/meet recording start|stop` — record the meeting, posted in its thread (LiveKit; host, admins)
* `/meet captions on|off` — live captions in the meeting, for everyone (LiveKit; host, admins)
* `/meet stats` — bitrate, packet loss and round-trip time of your last LiveKit session
* `/meet max N|default` — the participant limit of this channel's LiveKit meetings (channel admins)
* `/meet engine livekit|pexip|zoom|default` — the meeting engine of this channel (channel admins)
* `/meet guest-link [hours]` — an expiring link for external guests (Pexip; channel admins)
* `/meet connect` / `/meet disconnect` — connect or disconnect your Zoom account
* `/meet settings` — whether Zoom meetings use your personal meeting ID
* `/meet help` — this help"""

ADMIN_HELP = """\
* `/meet admin` — a link to the meetbridge admin console
* `/meet admin allow` / `/meet admin disallow` — allow or disallow meetings in this channel"""


def help_text(is_admin: bool, unknown: str = "") -> str:
    prefix = f"`{unknown}` is not a /meet command.\n\n" if unknown else ""
    return prefix + HELP + ("\n" + ADMIN_HELP if is_admin else "")
