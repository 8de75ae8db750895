"""The ``meetbridge`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TypeVar

import click
import orjson

from meetbridge.commands.doctor import doctor
from meetbridge.commands.livekit import livekit
from meetbridge.commands.meeting_json import attendance, meeting_json
from meetbridge.commands.waiting import wait_for_database
from meetbridge.config import ServiceConfig, load_config
from meetbridge.core import Core, StartupError, open_core, prepare_schema
from meetbridge.domain.ids import parse_channel_id
from meetbridge.domain.settings import SECRET_SETTINGS, SettingError, describe_settings
from meetbridge.log_setup import configure_logging
from meetbridge.services.admin import AdminService
from meetbridge.services.meeting_queries import MeetingQueries
from meetbridge.store import outbox_repo

T = TypeVar("T")
CLI_ACTOR = "cli"


def _run(
    config: ServiceConfig, work: Callable[[Core], Awaitable[T]], migrate: bool | None = None
) -> T:
    """Open the database, migrate it (default: only an embedded SQLite one), run ``work``."""

    async def runner() -> T:
        core = await open_core(config)
        try:
            await prepare_schema(core, core.database.is_sqlite if migrate is None else migrate)
            return await work(core)
        finally:
            await core.close()

    try:
        return asyncio.run(runner())
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc


def _admin(core: Core) -> AdminService:
    return AdminService(core.database, core.box, core.clock)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """meetbridge: secure video meetings from Mattermost, on Pexip Infinity and more."""
    try:
        ctx.obj = load_config()
    except ValueError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from exc
    configure_logging(ctx.obj.log_level, ctx.obj.log_format)


main.add_command(livekit)
main.add_command(doctor)


@main.command()
@click.option("--host", help="Address to listen on (MEETBRIDGE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (MEETBRIDGE_PORT, default 8787).")
@click.option(
    "--server",
    type=click.Choice(["granian", "uvicorn"]),
    help="HTTP server (MEETBRIDGE_SERVER, default granian).",
)
@click.pass_obj
def serve(config: ServiceConfig, host: str | None, port: int | None, server: str | None) -> None:
    """Serve the policy server, the event sink and the web pages (one process)."""
    overrides = {"host": host, "port": port, "server": server}
    config = config.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    from meetbridge.web.serve import serve_forever

    try:
        serve_forever(config)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0, 3600),
    default=0,
    help="Seconds to wait for the database to answer first (it may be starting too).",
)
@click.pass_obj
def migrate(config: ServiceConfig, wait_seconds: float) -> None:
    """Create or upgrade the database schema."""

    async def nothing_more(core: Core) -> None:
        return None

    if wait_seconds:
        wait_for_database(config.effective_database_url, wait_seconds)
    _run(config, nothing_more, migrate=True)
    click.echo("database schema is current")


# --- pexip ---------------------------------------------------------------------------------


@main.group()
def pexip() -> None:
    """Pexip Infinity integration."""


@pexip.command()
@click.option("--regenerate", is_flag=True, help="Replace the username and password.")
@click.pass_obj
def credentials(config: ServiceConfig, regenerate: bool) -> None:
    """Print what to paste into Infinity's policy profile and event sink."""
    if regenerate:
        click.confirm(
            "New credentials stop Infinity's current ones from working until you update its "
            "policy profile and event sink. Continue?",
            abort=True,
            err=True,
        )
        creds = _run(config, lambda core: _admin(core).regenerate_credentials(CLI_ACTOR))
    else:
        creds = _run(config, lambda core: _admin(core).credentials())
    click.echo(f"Username:            {creds.username}")
    click.echo(f"Password:            {creds.password}")
    click.echo(f"Policy server URL:   {config.policy_base_url}")
    click.echo(f"Event sink URL:      {config.event_sink_url}")
    click.echo(
        "\nIn Infinity: Call Control > Policy Profiles: external policy server URL, username, "
        "password, and 'Enable external service configuration lookup' (participant lookup "
        "too, for display names). System > Event Sinks: URL, username, password, version 2.",
        err=True,
    )


# --- zoom ----------------------------------------------------------------------------------


@main.group()
def zoom() -> None:
    """Zoom integration."""


@zoom.command("webhook-url")
@click.pass_obj
def zoom_webhook_url(config: ServiceConfig) -> None:
    """Print the URL to paste into the Zoom app's event subscription."""
    from meetbridge.engines.zoom import service as zoom_service

    url = _run(
        config,
        lambda core: zoom_service.webhook_url(
            core.database, core.box, core.clock, config.effective_public_url
        ),
    )
    click.echo(url)


@zoom.command("regenerate-key")
@click.pass_obj
def zoom_regenerate_key(config: ServiceConfig) -> None:
    """Replace the key Zoom tokens are encrypted with (every user must connect again)."""
    from meetbridge.engines.zoom import service as zoom_service

    click.confirm("Every stored Zoom connection will stop working. Continue?", abort=True, err=True)
    dropped = _run(
        config,
        lambda core: zoom_service.regenerate_key(core.database, core.box, core.clock, CLI_ACTOR),
    )
    click.echo(
        f"New Zoom token key. {dropped} stored Zoom connection(s) invalidated: "
        "those users must run /meet connect again."
    )


# --- settings ------------------------------------------------------------------------------


@main.group()
def settings() -> None:
    """Runtime settings (stored in the database, shared by every replica)."""


@settings.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def settings_show(config: ServiceConfig, as_json: bool) -> None:
    """Show every setting with its current value."""
    current = _run(config, lambda core: _admin(core).settings())
    values = current.model_dump(mode="json")
    if as_json:
        click.echo(orjson.dumps(values, option=orjson.OPT_INDENT_2).decode())
        return
    help_texts = describe_settings()
    for key, value in values.items():
        click.echo(f"{key} = {value!r}")
        click.echo(f"    {help_texts[key]}")
    for key, is_set in _run(config, lambda core: _admin(core).secrets_set()).items():
        click.echo(f"{key} = {'(set, hidden)' if is_set else '(not set)'}")
        click.echo(f"    {SECRET_SETTINGS[key]}")


@settings.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@click.pass_obj
def settings_set(config: ServiceConfig, key: str, value: str) -> None:
    """Change one setting: meetbridge settings set KEY VALUE."""
    try:
        if key in SECRET_SETTINGS:
            _run(config, lambda core: _admin(core).set_secret(key, value, CLI_ACTOR))
            click.echo(f"{key} = (set, hidden)")
            return
        changed = _run(config, lambda core: _admin(core).change_setting(key, value, CLI_ACTOR))
    except SettingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{key} = {changed.model_dump(mode='json')[key]!r}")


# --- channels ------------------------------------------------------------------------------


@main.group()
def channels() -> None:
    """The channel filter: channels are allowed unless disallowed here."""


@channels.command("list")
@click.pass_obj
def channels_list(config: ServiceConfig) -> None:
    """List channels with an explicit decision (all others are allowed)."""
    entries = _run(config, lambda core: _admin(core).channel_filter())
    if not entries:
        click.echo("No channel is disallowed: every channel may hold meetings.")
        return
    for entry in entries:
        state = "allowed" if entry.allowed else "disallowed"
        click.echo(
            f"{entry.channel_id}  {state:<10}  by {entry.updated_by} at {_when(entry.updated_at)}"
        )


def _set_channel(config: ServiceConfig, channel: str, allowed: bool) -> None:
    try:
        channel_id = parse_channel_id(channel)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="CHANNEL_ID") from exc
    _run(config, lambda core: _admin(core).set_channel_allowed(channel_id, allowed, CLI_ACTOR))
    click.echo(f"{channel_id} {'allowed' if allowed else 'disallowed'}")


@channels.command("allow")
@click.argument("channel_id")
@click.pass_obj
def channels_allow(config: ServiceConfig, channel_id: str) -> None:
    """Allow meetings in a channel."""
    _set_channel(config, channel_id, allowed=True)


@channels.command("disallow")
@click.argument("channel_id")
@click.pass_obj
def channels_disallow(config: ServiceConfig, channel_id: str) -> None:
    """Disallow meetings in a channel ("Conference not available for this channel")."""
    _set_channel(config, channel_id, allowed=False)


# --- meetings ------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--recent", "recent_limit", default=20, show_default=True, help="Recent meetings.")
@click.pass_obj
def meetings(config: ServiceConfig, as_json: bool, recent_limit: int) -> None:
    """Meetings in progress with their participants, and recent ones with attendance."""
    overview = _run(config, lambda core: MeetingQueries(core.database).overview(recent_limit))
    if as_json:
        document = {
            "in_progress": [meeting_json(m) for m in overview.in_progress],
            "recent": [meeting_json(m) for m in overview.recent],
        }
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"In progress ({len(overview.in_progress)}):")
    for meeting in overview.in_progress:
        people = meeting.participants()
        click.echo(
            f"  {meeting.channel_id}  since {_when(meeting.started_at)}  "
            f"{len(people)} participant(s), peak {meeting.peak_participants}"
        )
        for person in people:
            click.echo(f"    - {person.display_name} ({person.role}, {person.protocol})")
    click.echo(f"Recent ({len(overview.recent)}):")
    for meeting in overview.recent:
        names = ", ".join(a.display_name for a in attendance(meeting)) or "nobody"
        click.echo(
            f"  {meeting.channel_id}  {_when(meeting.started_at)} - {_when(meeting.ended_at)}  "
            f"{_duration(meeting.duration)}  attended by {names}"
        )


# --- events --------------------------------------------------------------------------------


@main.group()
def events() -> None:
    """Engine events whose application failed: list them, apply them again."""


@events.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def events_failed(config: ServiceConfig, as_json: bool) -> None:
    """List events set aside because applying them failed, with the error."""
    from meetbridge.services.event_applier import failed_events

    failed = _run(config, lambda core: failed_events(core.database))
    if as_json:
        document = [
            {
                "id": e.id,
                "source": e.source,
                "node": e.node,
                "seq": e.seq,
                "event": e.event,
                "received_at": e.received_at,
                "failed_at": e.failed_at,
                "attempts": e.attempts,
                "error": e.error,
                "body": e.body,
            }
            for e in failed
        ]
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    if not failed:
        click.echo("No failed events.")
        return
    click.echo(f"{len(failed)} failed event(s):")
    for e in failed:
        click.echo(
            f"  #{e.id}  {e.source} node {e.node!r} seq {e.seq}  {e.event}  "
            f"failed {_when(e.failed_at)} (attempt {e.attempts})"
        )
        click.echo(f"      {e.error}")
    click.echo("Apply them again with: meetbridge events retry ID... (or --all)", err=True)


@events.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed event.")
@click.pass_obj
def events_retry(config: ServiceConfig, ids: tuple[int, ...], retry_all: bool) -> None:
    """Apply failed events again (by id, or --all) to the meetings still in progress."""
    from meetbridge.services.event_applier import retry_failed

    if bool(ids) == retry_all:
        raise click.UsageError("give the ids of failed events, or --all (not both)")
    chosen = None if retry_all else list(ids)
    count = _run(config, lambda core: retry_failed(core.database, chosen, CLI_ACTOR, core.clock))
    if not count and retry_all:
        click.echo("No failed events.")
        return
    if not count:
        raise click.ClickException("no failed event with that id")
    click.echo(f"{count} event(s) queued again; the running service applies them within seconds.")


# --- outbox --------------------------------------------------------------------------------


@main.group()
def outbox() -> None:
    """Mattermost updates that could not be delivered."""


@outbox.command("dead")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=100, show_default=True, help="How many to list, newest first.")
@click.pass_obj
def outbox_dead(config: ServiceConfig, as_json: bool, limit: int) -> None:
    """List the updates Mattermost refused, newest first."""

    async def work(core: Core) -> list[outbox_repo.DeadItem]:
        async with core.database.read() as conn:
            return await outbox_repo.dead_items(conn, limit)

    items = _run(config, work)
    if as_json:
        click.echo(orjson.dumps([asdict(item) for item in items]).decode())
        return
    if not items:
        click.echo("No undelivered updates.")
    for item in items:
        click.echo(
            f"{item.id}  {item.kind}  {item.dedupe_key or '-'}  {item.attempts} attempt(s)  "
            f"dead since {_when(item.died_at)}\n    {item.last_error or ''}"
        )


@outbox.command("retry")
@click.argument("item_ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Retry every undelivered update.")
@click.pass_obj
def outbox_retry(config: ServiceConfig, item_ids: tuple[int, ...], everything: bool) -> None:
    """Queue undelivered updates again (by id, or --all); a running meetbridge sends them."""
    if not item_ids and not everything:
        raise click.UsageError(
            "name the items to retry (ids from `meetbridge outbox dead`) or --all"
        )

    async def work(core: Core) -> int:
        async with core.database.transaction() as conn:
            return await outbox_repo.retry_dead(
                conn, None if everything else list(item_ids), core.clock.now()
            )

    count = _run(config, work)
    click.echo(f"Queued {count} update(s) again.")


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


if __name__ == "__main__":
    sys.exit(main())
