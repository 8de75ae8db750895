"""The in-memory view of state that all replicas share through the database.

Hot paths (policy answers, request authentication) read from here and never wait on the
database. A refresher compares revision counters about once a second and reloads what changed,
so a setting saved on one replica (or by the CLI) takes effect on all of them.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox
from meetbridge.domain.ids import ChannelId
from meetbridge.domain.pins import ChannelPins
from meetbridge.domain.settings import SECRET_SETTINGS, RuntimeSettings, settings_from_stored
from meetbridge.store import (
    channel_filter_repo,
    chat_repo,
    credentials_repo,
    pins_repo,
    revisions,
    settings_repo,
)
from meetbridge.store.credentials_repo import PexipCredentials
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

REFRESH_INTERVAL = 1.0


class SharedState:
    def __init__(self, database: Database, box: SecretBox, clock: Clock) -> None:
        self._database = database
        self._box = box
        self._clock = clock
        self.settings = RuntimeSettings()
        self.disallowed: frozenset[ChannelId] = frozenset()
        self.credentials: PexipCredentials | None = None
        self.command_tokens: dict[str, str] = {}  # team id -> token Mattermost issued for /meet
        self.secrets: dict[str, str] = {}  # the SECRET_SETTINGS that are set
        self._pins: dict[ChannelId, ChannelPins] = {}
        self._seen: dict[str, int] = {}

    async def load(self) -> None:
        async with self._database.read() as conn:
            self._seen = await revisions.read_all(conn)
        await self._reload(
            {
                "settings",
                "channel_filter",
                "credentials",
                "pins",
                "secrets",
                chat_repo.COMMANDS_TOPIC,
            }
        )

    async def refresh(self) -> set[str]:
        """Reload whatever another process changed since the last look; returns the topics."""
        async with self._database.read() as conn:
            current = await revisions.read_all(conn)
        changed = {topic for topic, value in current.items() if self._seen.get(topic) != value}
        self._seen = current
        if changed:
            await self._reload(changed)
        return changed

    async def run_refresher(self, interval: float = REFRESH_INTERVAL) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("shared_state.refresh_failed")

    async def _reload(self, topics: set[str]) -> None:
        async with self._database.read() as conn:
            if settings_repo.TOPIC in topics:
                self.settings = settings_from_stored(await settings_repo.load(conn))
            if channel_filter_repo.TOPIC in topics:
                self.disallowed = await channel_filter_repo.disallowed(conn)
            if credentials_repo.TOPIC in topics:
                self.credentials = await credentials_repo.get(conn, self._box)
            if "secrets" in topics:
                self.secrets = {
                    key: value
                    for key in SECRET_SETTINGS
                    if (value := await chat_repo.get_secret(conn, self._box, f"setting:{key}"))
                }
            if chat_repo.COMMANDS_TOPIC in topics:
                self.command_tokens = await chat_repo.command_tokens(conn, self._box)
        if pins_repo.TOPIC in topics:
            self._pins.clear()

    def remember_command_token(self, team_id: str, token: str) -> None:
        """A token meetbridge has just been given by Mattermost, usable before the next refresh
        (which replaces the whole map with what the database holds)."""
        self.command_tokens = {**self.command_tokens, team_id: token}

    async def pins_for(self, channel_id: ChannelId) -> ChannelPins:
        """The channel's current PINs; created on first use."""
        cached = self._pins.get(channel_id)
        if cached is not None:
            return cached
        async with self._database.transaction() as conn:
            pins = await pins_repo.get_or_create(conn, self._box, channel_id, self._clock.now())
        self._pins[channel_id] = pins
        return pins

    async def replace_guest_pin(self, channel_id: ChannelId) -> ChannelPins:
        """Give the channel a new guest PIN now (this replica at once, the others on their next
        refresh)."""
        async with self._database.transaction() as conn:
            await pins_repo.replace_guest_pin(conn, self._box, channel_id, self._clock.now())
        self.forget_pins(channel_id)
        return await self.pins_for(channel_id)

    def forget_pins(self, channel_id: ChannelId) -> None:
        with contextlib.suppress(KeyError):
            del self._pins[channel_id]
