"""The engines this install has, and which one a channel uses.

A channel uses the engine chosen for it with ``/meet engine``, else the install's default
(setting ``default_engine``). Adding an engine is one package under engines/ plus one entry
here, made in web/app.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId
from meetbridge.ports import (
    MeetingEngine,
    OwnStartFlow,
    UserAccounts,
    own_start_flow,
    user_accounts,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store import audit_repo, engines_repo
from meetbridge.store.database import Database


class EngineRegistry:
    def __init__(
        self,
        database: Database,
        state: SharedState,
        clock: Clock,
        engines: Mapping[str, MeetingEngine],
    ) -> None:
        self._database = database
        self._state = state
        self._clock = clock
        self._engines = dict(engines)

    def register(self, engine: MeetingEngine) -> None:
        """Add an engine built after the registry (Zoom's needs the join service, which needs
        the registry)."""
        self._engines[engine.name] = engine

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._engines)

    def engine(self, name: str) -> MeetingEngine | None:
        """The engine called ``name``, None for an unknown one."""
        return self._engines.get(name)

    def title(self, name: str) -> str:
        engine = self._engines.get(name)
        return name if engine is None else engine.title

    def all(self) -> Mapping[str, MeetingEngine]:
        return dict(self._engines)

    def button_owner(self, action: str) -> OwnStartFlow | None:
        """The engine whose answers or cards carry buttons with ``action``, if any."""
        for engine in self._engines.values():
            own_flow = own_start_flow(engine)
            if own_flow is not None and action in own_flow.button_actions:
                return own_flow
        return None

    def accounts(self) -> tuple[str, UserAccounts] | None:
        """The first engine on which users connect accounts of their own (one has, today)."""
        for name, engine in self._engines.items():
            accounts = user_accounts(engine)
            if accounts is not None:
                return name, accounts
        return None

    async def engine_for(self, channel_id: ChannelId) -> str:
        async with self._database.read() as conn:
            chosen = await engines_repo.channel_engine(conn, channel_id)
        return chosen or self._state.settings.default_engine

    async def set_engine(self, channel_id: ChannelId, engine: str | None, actor: str) -> None:
        """Choose the channel's engine (None: back to the install's default); audited."""
        if engine is not None and engine not in self.names:
            raise ValueError(f"unknown engine {engine!r}")
        async with self._database.transaction() as conn:
            now = self._clock.now()
            await engines_repo.set_channel_engine(conn, channel_id, engine, actor, now)
            await audit_repo.record(
                conn, actor, "channel.engine", {"channel_id": channel_id, "engine": engine}, now
            )
