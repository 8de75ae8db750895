"""How often one device may ask for each meeting-page action (the control API of every engine).

Without a limit one device could flood the meeting card's thread with chat lines, everyone's
pages with hands going up and down, or LiveKit and Infinity with host actions. Limits count per
device (its identity, whichever replica takes the call) in windows of a few seconds: generous
for a person, short for a script.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    group: str  # actions that share one window
    count: int  # at most this many calls...
    seconds: float  # ...in a window this long, from its first call
    what: str  # for the refusal: "Slow down: at most 5 chat lines every 5 seconds."

    def refusal(self) -> str:
        return f"Slow down: at most {self.count} {self.what} every {self.seconds:g} seconds."


REACTIONS = Limit("react", 3, 5.0, "reactions")
CHAT = Limit("chat", 5, 5.0, "chat lines")
HANDS = Limit("hands", 6, 10.0, "raised or lowered hands")
STATS = Limit("stats", 3, 10.0, "connection reports")
HOST = Limit("host", 10, 10.0, "host actions")

_BY_ACTION = {
    "react": REACTIONS,
    "chat": CHAT,
    "raise-hand": HANDS,
    "lower-hand": HANDS,
    "stats": STATS,
}


def limit_of(action: str) -> Limit:
    """The limit an action counts against (host actions and anything else share one)."""
    return _BY_ACTION.get(action, HOST)
