"""Whether a /meet request carries the token Mattermost issued for meetbridge's command.

The token is normally known (shared state). Right after meetbridge registers the command,
Mattermost already lists it, and sends it, before this process has the token: a token that
does not match is then checked against Mattermost's own record of the command before it is
refused. Those look-ups are rate-limited so that forged requests cannot hammer Mattermost.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from meetbridge.domain.ids import is_mattermost_id
from meetbridge.services.shared_state import SharedState

log = structlog.get_logger(__name__)

LOOKUP_INTERVAL_PER_TEAM = 1.0  # seconds between two look-ups for the same team
LOOKUPS_PER_SECOND = 5  # across all teams
LOOKUP_TIMEOUT = 3.0
_MAX_TRACKED_TEAMS = 1024

RegisteredToken = Callable[[str], Awaitable[str | None]]


class LookupBudget:
    """At most one look-up per team every ``per_team`` seconds, and ``per_second`` in all.
    Measured on a monotonic clock: a wall-clock jump must neither lift nor freeze the limits."""

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        per_team: float = LOOKUP_INTERVAL_PER_TEAM,
        per_second: int = LOOKUPS_PER_SECOND,
    ) -> None:
        self._now = now
        self._per_team = per_team
        self._per_second = per_second
        self._last: dict[str, float] = {}
        self._recent: deque[float] = deque()

    def take(self, team_id: str) -> bool:
        now = self._now()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        last = self._last.get(team_id)
        if last is not None and now - last < self._per_team:
            return False
        if len(self._recent) >= self._per_second:
            return False
        self._recent.append(now)
        self._last[team_id] = now
        if len(self._last) > _MAX_TRACKED_TEAMS:  # only recent teams matter
            self._last = {t: at for t, at in self._last.items() if now - at < self._per_team}
        return True


class CommandTokenCheck:
    def __init__(
        self,
        state: SharedState,
        registered_token: RegisteredToken | None,
        budget: LookupBudget,
    ) -> None:
        """``registered_token(team_id)`` asks Mattermost for the token of meetbridge's command in
        that team (None when it has none or cannot say); None when Mattermost is not set up."""
        self._state = state
        self._registered_token = registered_token
        self._budget = budget
        self._pending: dict[str, asyncio.Task[str | None]] = {}

    async def is_valid(self, team_id: str, given: bytes) -> bool:
        if _same(self._state.command_tokens.get(team_id), given):
            return True
        if self._registered_token is None or not given or not is_mattermost_id(team_id):
            return False
        return _same(await self._token_in_mattermost(team_id), given)

    async def _token_in_mattermost(self, team_id: str) -> str | None:
        # Requests for the same team share one look-up; shield: one caller giving up must not
        # cancel it for the others.
        pending = self._pending.get(team_id)
        if pending is None:
            if not self._budget.take(team_id):
                log.debug("mattermost.command_lookup_limited", team_id=team_id)
                return None
            pending = asyncio.create_task(self._look_up(team_id))
            self._pending[team_id] = pending
            pending.add_done_callback(lambda _: self._pending.pop(team_id, None))
        return await asyncio.shield(pending)

    async def _look_up(self, team_id: str) -> str | None:
        assert self._registered_token is not None
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                token = await self._registered_token(team_id)
        except TimeoutError:
            log.warning("mattermost.command_lookup_timed_out", team_id=team_id)
            return None
        if token:
            self._state.remember_command_token(team_id, token)
        return token


def _same(expected: str | None, given: bytes) -> bool:
    """Constant-time comparison on bytes; an unknown token never matches."""
    if not expected:
        return False
    return hmac.compare_digest(expected.encode(), given)
