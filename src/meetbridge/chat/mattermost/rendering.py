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
from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.domain.views import MeetingCard, RingCard, RingState, describe_duration

POST_TYPE = "custom_meetbridge"
LIVE_COLOUR = "#3DB887"
ENDED_COLOUR = "#8D93A5"
RING_COLOUR = "#1C58D9"
NOT_AVAILABLE = ENGLISH("refusal.not_available")


def _names(names: tuple[str, ...], texts: Messages) -> str:
    return ", ".join(md(name) for name in names) if names else texts("card.nobody_yet")


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
    """The message, props and type of a meeting card, in the card's language. ``stable_link``:
    the channel's lasting meeting link, the card's ``meeting_link`` for engines joined through
    meetbridge."""
    texts = Messages(card.locale)
    starter = md(card.started_by) if card.started_by else texts("card.someone")
    topic = f": {md(card.topic)}" if card.topic else ""
    fields: list[dict[str, Any]] = [
        {"title": texts("card.started_by"), "value": starter, "short": True},
        {"title": texts("card.engine"), "value": card.engine, "short": True},
    ]
    if card.meeting_number:
        fields.append(
            {"title": texts("card.meeting_id"), "value": md(card.meeting_number), "short": True}
        )
    # Someone may be in the engine's own app, where the card's Leave cannot reach them.
    own_apps = card.own_apps and card.join_url is None and not card.is_over
    if card.is_over:
        lasted = describe_duration(card.duration or 0.0, texts)
        message = texts("card.ended_message", topic=topic, lasted=lasted)
        fields.append({"title": texts("card.duration"), "value": lasted, "short": True})
        if card.roster:
            fields.append(
                {
                    "title": texts("card.attended_by", count=len(card.attendees)),
                    "value": _names(card.attendees, texts),
                    "short": False,
                }
            )
        attachment: dict[str, Any] = {
            "fallback": plain_text(_unescape(message)),
            "color": ENDED_COLOUR,
            "title": texts("card.ended_title", topic=topic),
            "text": texts("card.ended_text", lasted=lasted),
            "fields": fields,
        }
        status = "ENDED"
    else:
        message = texts("card.started_message", starter=starter, topic=topic)
        if card.roster:
            fields.append(
                {
                    "title": texts("card.in_meeting", count=len(card.participants)),
                    "value": _names(card.participants, texts),
                    "short": False,
                }
            )
        target = str(card.meeting_id)
        join, leave, end = texts("button.join"), texts("button.leave"), texts("button.end")
        if card.join_url is not None:
            actions = [
                buttons.button(
                    join, f"{card.engine_key}join", card.channel_id, target, style="primary"
                )
            ]
            link = (
                texts("card.join_link", url=card.join_url)
                if card.join_url
                else texts("card.join_button_hint")
            )
        else:
            actions = [
                buttons.button(join, "join", card.channel_id, target, style="primary"),
                buttons.button(leave, "leave", card.channel_id, target),
            ]
            if card.can_end:  # shown to everyone; only the host or an admin may confirm it
                actions.append(buttons.button(end, "end", card.channel_id, target, style="danger"))
            link = texts("card.meet_join_hint")
        attachment = {
            "fallback": plain_text(_unescape(f"{message} {link}")),
            "color": LIVE_COLOUR,
            "title": texts("card.live_title", topic=topic),
            "fields": fields,
            "actions": actions,
        }
        if card.join_url:
            attachment["text"] = link
        if own_apps:
            attachment["footer"] = texts("card.own_apps_footer", engine=card.engine)
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
    """The ringing message for one callee, in their language, posted in their direct channel
    with the bot."""
    texts = Messages(ring.locale)
    where, caller = md(ring.conversation), md(ring.caller)
    if ring.state is RingState.RINGING:
        message = texts("ring.calling", caller=caller, where=where)
        target = str(ring.ring_id)
        join, ignore = texts("button.join"), texts("button.ignore")
        attachment: dict[str, Any] = {
            "fallback": plain_text(_unescape(f"{message} {texts('ring.answer_hint')}")),
            "color": RING_COLOUR,
            "actions": [
                buttons.button(join, "ring_join", channel_id, target, ring.callee_id, "primary"),
                buttons.button(ignore, "ring_ignore", channel_id, target, ring.callee_id),
            ],
        }
    else:
        key = {
            RingState.MISSED: "ring.missed",
            RingState.IGNORED: "ring.ignored",
            RingState.ANSWERED: "ring.answered",
        }[ring.state]
        message = texts(key, caller=caller, where=where)
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


def help_text(is_admin: bool, unknown: str = "", texts: Messages = ENGLISH) -> str:
    prefix = texts("help.unknown", command=unknown) if unknown else ""
    return prefix + texts("help.body") + ("\n" + texts("help.admin") if is_admin else "")
