"""Meeting PINs: random per channel, replaced after every meeting (never one global PIN)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

PIN_DIGITS = 8  # Infinity accepts 4-20 digits; nobody types it, the join link carries it


@dataclass(frozen=True, slots=True)
class ChannelPins:
    host_pin: str
    guest_pin: str


def random_pin(digits: int = PIN_DIGITS) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def new_guest_pin(host_pin: str, old_guest_pin: str) -> ChannelPins:
    """The same host PIN with a guest PIN that is neither it nor the old one."""
    guest = random_pin()
    while guest in (host_pin, old_guest_pin):
        guest = random_pin()
    return ChannelPins(host_pin=host_pin, guest_pin=guest)


def new_channel_pins() -> ChannelPins:
    host = random_pin()
    guest = random_pin()
    while guest == host:  # the PIN decides the role, so the two must differ
        guest = random_pin()
    return ChannelPins(host_pin=host, guest_pin=guest)
