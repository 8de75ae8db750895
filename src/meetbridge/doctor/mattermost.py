"""Mattermost from meetbridge's side: the bot's token, /meet, the OAuth app, the companion
plugin's shared secret, and Mattermost's clock."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from meetbridge.chat.mattermost.plugin_events import PluginEvents
from meetbridge.chat.mattermost.setup import OAUTH_APP_RECORD
from meetbridge.doctor.context import CLOCK_TOLERANCE, DoctorContext, clock_skew, reason
from meetbridge.doctor.results import CheckResult, fail, ok, skip, warn
from meetbridge.store import chat_repo

NAME = "Mattermost"
REVOKED_FIX = (
    "create a new token for the bot (System Console > Integrations > Bot Accounts), set "
    "MEETBRIDGE_MATTERMOST_TOKEN_FILE to it and restart meetbridge"
)


async def check_mattermost(ctx: DoctorContext) -> list[CheckResult]:
    config = ctx.config
    if not config.mattermost_url or config.mattermost_token is None:
        return [
            fail(
                NAME,
                "no Mattermost configured",
                "set MEETBRIDGE_MATTERMOST_URL and MEETBRIDGE_MATTERMOST_TOKEN(_FILE)",
            )
        ]
    try:
        me = await _get(ctx, "/users/me")
    except httpx2.HTTPError as exc:
        return [
            fail(
                NAME,
                f"cannot reach {config.mattermost_url}: {reason(exc)}",
                "check MEETBRIDGE_MATTERMOST_URL and that this host can reach Mattermost",
            )
        ]
    clock = clock_result("clock (Mattermost)", me.headers.get("date"), ctx.clock.now())
    if me.status_code == 401:
        detail = "Mattermost refuses the bot's token (401): it was revoked, or is not the bot's"
        return [fail(NAME, detail, REVOKED_FIX), clock]
    if me.status_code != 200:
        detail = f"{config.mattermost_url}/api/v4/users/me answered {me.status_code}"
        return [fail(NAME, detail, "check that the URL is Mattermost's, not a proxy's page"), clock]
    bot: dict[str, Any] = me.json()
    return [
        _signed_in(config.mattermost_url, bot),
        await _command(ctx, bot),
        await _oauth_app(ctx),
        await check_plugin(ctx, str(bot.get("id", ""))),
        clock,
    ]


def _signed_in(url: str, bot: dict[str, Any]) -> CheckResult:
    who = f"@{bot.get('username', '?')}"
    if "system_admin" not in str(bot.get("roles", "")).split():
        return warn(
            NAME,
            f"{url} answers; {who} is not a system admin",
            "give the bot the System Admin role (System Console > Users): /meet, cards in "
            "every channel and statuses need it",
        )
    return ok(NAME, f"{url} answers; signed in as {who} (system admin)")


async def _get(ctx: DoctorContext, path: str, **params: str) -> httpx2.Response:
    url = f"{ctx.config.mattermost_url}/api/v4{path}"
    return await ctx.http.get(url, headers=ctx.mattermost_auth(), params=params)


async def _command(ctx: DoctorContext, bot: dict[str, Any]) -> CheckResult:
    name, trigger = "/meet command", ctx.config.command_trigger
    teams = (await _get(ctx, "/users/me/teams")).json()
    if not isinstance(teams, list) or not teams:
        return fail(name, "the bot is in no team", "add the bot to each team that needs /meet")
    url = f"{ctx.public_url}/api/mattermost/command"
    registered = 0
    for team in teams:
        commands = (await _get(ctx, "/commands", team_id=team["id"], custom_only="true")).json()
        registered += any(
            c.get("trigger") == trigger and c.get("url") == url and c.get("creator_id") == bot["id"]
            for c in (commands if isinstance(commands, list) else [])
        )
    detail = f"/{trigger} -> {url} registered in {registered} of the bot's {len(teams)} teams"
    if registered == len(teams):
        return ok(name, detail)
    fix = (
        "meetbridge registers it when it starts: check its log for mattermost.setup_retry or "
        "mattermost.trigger_taken, and that MEETBRIDGE_PUBLIC_URL is the URL it runs at"
    )
    return (fail if registered == 0 else warn)(name, detail, fix)


async def _oauth_app(ctx: DoctorContext) -> CheckResult:
    name = "OAuth app"
    if ctx.core is None or ctx.state is None:
        return skip(name, "needs the database")
    async with ctx.core.database.read() as conn:
        stored = await chat_repo.get_secret(conn, ctx.core.box, OAUTH_APP_RECORD)
    enable = (
        "turn on ServiceSettings.EnableOAuthServiceProvider, give the bot System Admin and "
        "restart meetbridge (it registers the app)"
    )
    if stored is None:
        return fail(name, "meetbridge has no OAuth app in Mattermost: links cannot sign in", enable)
    client_id = orjson.loads(stored)["client_id"]
    answer = await _get(ctx, f"/oauth/apps/{client_id}")
    callback = f"{ctx.public_url}/oauth/mattermost/callback"
    if answer.status_code == 200 and callback in (answer.json().get("callback_urls") or []):
        return ok(name, f"{client_id} signs people in for {ctx.public_url}")
    if answer.status_code == 200:
        return fail(name, f"{client_id} calls back elsewhere, not {callback}", "restart meetbridge")
    detail = f"Mattermost answered {answer.status_code} for the app meetbridge registered"
    return fail(name, detail, enable)


async def check_plugin(ctx: DoctorContext, bot_id: str) -> CheckResult:
    name = "companion plugin"
    secret = ctx.state.secrets.get("plugin_shared_secret", "") if ctx.state else ""
    if not secret:
        return skip(name, "plugin_shared_secret not set (the plugin is optional)")
    async with httpx2.AsyncClient(base_url=ctx.config.mattermost_url, timeout=8.0) as http:
        status = await PluginEvents(http, lambda: secret, ctx.clock).send(
            "meetbridge_doctor", {}, user_id=bot_id
        )
    if status == 204:
        return ok(name, "the plugin accepts meetbridge's signed calls (same shared secret)")
    problems = {
        401: (
            "the plugin refuses meetbridge's signature: its Shared secret differs from "
            "meetbridge's plugin_shared_secret",
            "copy the plugin's Shared secret (System Console > Plugins > meetbridge) into "
            "`meetbridge settings set plugin_shared_secret ...`",
        ),
        404: (
            "the plugin is not installed or not enabled",
            "install and enable it, or unset plugin_shared_secret",
        ),
        503: ("the plugin has no meetbridge URL or shared secret", "set both in its settings"),
    }
    detail, fix = problems.get(status or 0, (f"the plugin answered {status}", "see its log"))
    return fail(name, detail, fix)


def clock_result(name: str, date_header: str | None, now: float) -> CheckResult:
    skew = clock_skew(date_header, now)
    if skew is None:
        return skip(name, "the server sent no Date header")
    detail = f"differs from this host's by {skew:+.0f} s"
    if abs(skew) <= CLOCK_TOLERANCE:
        return ok(name, detail)
    return fail(
        name,
        detail,
        "synchronise the clocks with NTP (chrony or systemd-timesyncd) on every host: "
        "signed links, tokens and webhooks expire by the clock",
    )
