"""The ``/meet`` slash command: what a user typed, parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    START = "start"
    JOIN = "join"
    STATUS = "status"
    LINK = "link"
    HELP = "help"
    ADMIN = "admin"
    ENGINE = "engine"
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    SETTINGS = "settings"
    LEAVE = "leave"
    END = "end"
    HOST = "host"
    MAX = "max"
    STATS = "stats"
    GUEST_LINK = "guest-link"
    RECORDING = "recording"
    CAPTIONS = "captions"


@dataclass(frozen=True, slots=True)
class MeetCommand:
    verb: Verb
    argument: str = ""
    unknown: str = ""  # a subcommand we do not know: answered with help, not an error


def parse_meet(text: str) -> MeetCommand:
    words = text.strip().split(None, 1)
    if not words:
        return MeetCommand(Verb.START)
    head, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    try:
        verb = Verb(head)
    except ValueError:
        return MeetCommand(Verb.HELP, unknown=words[0])
    return MeetCommand(verb, rest[:200])


_USERNAME = re.compile(r"@?([a-z0-9._-]{1,64})")  # Mattermost's username characters


def mentioned_username(argument: str) -> str | None:
    """The username in ``@bob`` or ``bob`` (one word, lower-cased); None for anything else."""
    match = _USERNAME.fullmatch(argument.strip().lower())
    return match.group(1) if match else None
