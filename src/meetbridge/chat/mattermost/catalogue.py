"""Copying Mattermost's channel list into the admin console's catalogue.

The Filter Channels transfer list must stay usable with thousands of channels across teams
(the Pexip plugin's selector once stopped at 60), so it searches and pages a local copy instead
of asking Mattermost on every keystroke. The copy is refreshed in the background and on demand.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostError
from meetbridge.clock import Clock
from meetbridge.store import admin_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

PER_PAGE = 200  # Mattermost's maximum page size
REFRESH_INTERVAL = 15 * 60.0


class CatalogueSync:
    def __init__(self, client: MattermostClient, database: Database, clock: Clock) -> None:
        self._client = client
        self._database = database
        self._clock = clock
        self.last_count: int | None = None

    async def refresh(self) -> int:
        """Copy every public and private channel of every team; returns how many."""
        started = self._clock.now()
        teams = {team["id"]: team for team in await self._all("/teams")}
        seen: set[str] = set()
        page = 0
        while True:
            channels = await self._client.request(
                "GET",
                "/channels",
                params={"page": page, "per_page": PER_PAGE, "include_deleted": "true"},
            )
            rows = [_row(channel, teams, started) for channel in channels or []]
            async with self._database.transaction() as conn:
                await admin_repo.store_catalogue(conn, rows)
            seen.update(str(row["channel_id"]) for row in rows)
            if len(channels or []) < PER_PAGE:
                break
            page += 1
        async with self._database.transaction() as conn:
            await admin_repo.drop_missing(conn, seen, started)
        self.last_count = len(seen)
        return len(seen)

    async def run(self, interval: float = REFRESH_INTERVAL) -> None:
        while True:
            try:
                count = await self.refresh()
                log.info("channel_catalogue.refreshed", channels=count)
            except MattermostError as exc:
                log.warning("channel_catalogue.refresh_failed", error=str(exc))
            await asyncio.sleep(interval)

    async def _all(self, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            batch = await self._client.request(
                "GET", path, params={"page": page, "per_page": PER_PAGE}
            )
            found += batch or []
            if len(batch or []) < PER_PAGE:
                return found
            page += 1


def _row(
    channel: dict[str, Any], teams: dict[str, dict[str, Any]], now: float
) -> dict[str, object]:
    team = teams.get(channel.get("team_id", ""), {})
    return {
        "channel_id": channel["id"],
        "team_id": channel.get("team_id", ""),
        "team_name": channel.get("team_display_name") or team.get("display_name", ""),
        "name": channel.get("name", ""),
        "display_name": channel.get("display_name", ""),
        "kind": channel.get("type", "O"),
        "archived": int(channel.get("delete_at") or 0) > 0,
        "updated_at": now,
    }
