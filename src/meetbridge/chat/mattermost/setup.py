"""Getting meetbridge into Mattermost at start-up: check the bot, register /meet in every team
the bot belongs to (updating, never duplicating, the command it registered before), and the
OAuth app that lets people sign in for the channel's stable meeting link.

Runs in the background with retries, so meetbridge starts (and answers Infinity) even while
Mattermost is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostApiError, MattermostError
from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox
from meetbridge.store import advisory_locks, chat_repo
from meetbridge.store.database import Database

log = structlog.get_logger(__name__)

OAUTH_APP_RECORD = "mattermost_oauth_app"
OAUTH_APP_NAME = "meetbridge"
# A look-up made while a /meet request waits: well inside Mattermost's wait for the answer.
COMMAND_LOOKUP_TIME_LIMIT = 2.0


AUTOCOMPLETE_HINT = (
    "[start [topic] | join | leave | end | host @user | recording start|stop | captions on|off | "
    "stats | status | link | max N|default | engine livekit|pexip|zoom|default | "
    "guest-link [hours] | connect | disconnect | settings | help]"
)


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str


class MattermostSetup:
    def __init__(
        self,
        client: MattermostClient,
        database: Database,
        box: SecretBox,
        clock: Clock,
        public_url: str,
        trigger: str,
        on_command_token: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_command_token(team_id, token)`` hears of each token as soon as it is stored, so
        that this process accepts the command before its next shared-state refresh."""
        self._client = client
        self._on_command_token = on_command_token
        self._database = database
        self._box = box
        self._clock = clock
        self._public_url = public_url
        self.trigger = trigger
        self.bot: dict[str, Any] | None = None
        self.ready = asyncio.Event()

    @property
    def command_url(self) -> str:
        return f"{self._public_url}/api/mattermost/command"

    @property
    def oauth_callback_url(self) -> str:
        return f"{self._public_url}/oauth/mattermost/callback"

    async def run_until_done(self, first_delay: float = 1.0, max_delay: float = 60.0) -> None:
        delay = first_delay
        while True:
            try:
                await self.run_once()
            except MattermostError as exc:
                log.warning("mattermost.setup_retry", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(max_delay, delay * 2)
                continue
            self.ready.set()
            return

    async def run_once(self) -> None:
        me = await self._client.get_me()
        self.bot = me
        if not me.get("is_bot"):
            log.warning("mattermost.token_is_not_a_bot", username=me.get("username"))
        if "system_admin" not in str(me.get("roles", "")).split():
            log.warning(
                "mattermost.bot_lacks_system_admin",
                hint="without it the bot cannot register /meet, set custom statuses or post "
                "in every channel",
            )
        # Replicas starting together would each find no /meet and no OAuth app and register
        # their own; one at a time, the later ones find and reuse what the first registered.
        async with self._database.exclusive(advisory_locks.MATTERMOST_SETUP):
            for team in await self._client.get_my_teams():
                await self._register_command(team)
            await self._ensure_oauth_app()
        log.info("mattermost.setup_done", bot=me.get("username"))

    async def _register_command(self, team: dict[str, Any]) -> None:
        wanted = {
            "team_id": team["id"],
            "trigger": self.trigger,
            "url": self.command_url,
            "method": "P",
            "username": "",
            "display_name": "meetbridge",
            "description": "Start or join this channel's video meeting",
            "auto_complete": True,
            "auto_complete_desc": "Start or join this channel's video meeting",
            "auto_complete_hint": AUTOCOMPLETE_HINT,
        }
        existing = [
            c
            for c in await self._client.list_commands(team["id"])
            if c.get("trigger") == self.trigger
        ]
        ours = [
            c
            for c in existing
            if c.get("creator_id") == (self.bot or {}).get("id") or c.get("url") == self.command_url
        ]
        if existing and not ours:
            log.error(
                "mattermost.trigger_taken",
                team=team.get("name"),
                trigger=self.trigger,
                hint="another integration owns this trigger; choose MEETBRIDGE_COMMAND_TRIGGER",
            )
            return
        if ours:
            command = ours[0]
            bot_id = (self.bot or {}).get("id")
            await self._remove_duplicates(
                team, [c for c in ours[1:] if c.get("creator_id") == bot_id]
            )
            if any(command.get(key) != value for key, value in wanted.items()):
                command = await self._client.update_command({**command, **wanted})
        else:
            try:
                command = await self._client.create_command(wanted)
            except MattermostApiError as exc:
                log.error("mattermost.command_refused", team=team.get("name"), error=str(exc))
                return
        async with self._database.transaction() as conn:
            await chat_repo.save_command(
                conn,
                self._box,
                team["id"],
                command["id"],
                self.trigger,
                command["token"],
                self._clock.now(),
            )
        if self._on_command_token is not None:
            self._on_command_token(team["id"], command["token"])

    async def _remove_duplicates(
        self, team: dict[str, Any], duplicates: list[dict[str, Any]]
    ) -> None:
        """Second copies of /meet the bot registered (left by replicas that registered at the
        same moment before they took turns): Mattermost would answer with either, and the one whose
        token meetbridge does not keep would be refused."""
        for duplicate in duplicates:
            try:
                await self._client.delete_command(duplicate["id"])
            except MattermostApiError as exc:
                log.warning(
                    "mattermost.duplicate_command_kept", team=team.get("name"), error=str(exc)
                )
                continue
            log.info("mattermost.duplicate_command_removed", team=team.get("name"))

    async def registered_token(self, team_id: str) -> str | None:
        """The token of meetbridge's /meet in this team as Mattermost itself records it (the
        command may have been registered a moment ago); None when there is none or Mattermost
        cannot say. Only a command the bot created, with this trigger and URL, counts."""
        try:
            if self.bot is None:
                self.bot = await self._client.get_me()
            commands = await self._client.request(
                "GET",
                "/commands",
                params={"team_id": team_id, "custom_only": "true"},
                time_limit=COMMAND_LOOKUP_TIME_LIMIT,
            )
        except MattermostError as exc:
            log.warning("mattermost.command_lookup_failed", error=str(exc))
            return None
        bot_id = self.bot.get("id")
        for command in commands if isinstance(commands, list) else []:
            if (
                isinstance(command, dict)
                and bot_id
                and command.get("creator_id") == bot_id
                and command.get("team_id") == team_id
                and command.get("trigger") == self.trigger
                and command.get("url") == self.command_url
                and isinstance(token := command.get("token"), str)
                and token
            ):
                return token
        return None

    async def _ensure_oauth_app(self) -> None:
        async with self._database.read() as conn:
            stored = await chat_repo.get_secret(conn, self._box, OAUTH_APP_RECORD)
        if stored is not None:
            app = orjson.loads(stored)
            if app.get("callback") == self.oauth_callback_url:
                return
        wanted = {
            "name": OAUTH_APP_NAME,
            "description": "Sign-in for meetbridge meeting links",
            "callback_urls": [self.oauth_callback_url],
            "homepage": self._public_url,
            "is_trusted": True,
        }
        try:
            created = await self._existing_oauth_app(wanted) or await self._client.request(
                "POST", "/oauth/apps", json=wanted
            )
        except MattermostApiError as exc:
            log.warning(
                "mattermost.oauth_app_refused",
                hint="stable meeting links need ServiceSettings.EnableOAuthServiceProvider and "
                "a system_admin bot",
                error=str(exc),
            )
            return
        value = {
            "client_id": created["id"],
            "client_secret": created["client_secret"],
            "callback": self.oauth_callback_url,
        }
        async with self._database.transaction() as conn:
            await chat_repo.put_secret(
                conn, self._box, OAUTH_APP_RECORD, orjson.dumps(value).decode(), self._clock.now()
            )

    async def _existing_oauth_app(self, wanted: dict[str, Any]) -> dict[str, Any] | None:
        """The app meetbridge registered before (a lost database must not make a second one),
        brought up to date, with a fresh secret since the old one is not stored any more."""
        bot_id = (self.bot or {}).get("id")
        apps = await self._client.request("GET", "/oauth/apps", params={"per_page": 200})
        for app in apps or []:
            if app.get("name") == OAUTH_APP_NAME and app.get("creator_id") == bot_id:
                updated = await self._client.request(
                    "PUT", f"/oauth/apps/{app['id']}", json={**app, **wanted}
                )
                secret = await self._client.request("POST", f"/oauth/apps/{app['id']}/regen_secret")
                return {**updated, "client_secret": secret["client_secret"]}
        return None

    async def oauth_app(self) -> OAuthApp | None:
        async with self._database.read() as conn:
            stored = await chat_repo.get_secret(conn, self._box, OAUTH_APP_RECORD)
        if stored is None:
            return None
        app = orjson.loads(stored)
        return OAuthApp(app["client_id"], app["client_secret"])
