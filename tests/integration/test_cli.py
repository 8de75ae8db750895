"""The meetbridge command line, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from meetbridge.cli import main
from meetbridge.store import outbox_repo
from meetbridge.store.database import open_database


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEETBRIDGE_PUBLIC_URL", "https://meet.example.com")
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    return runner


def run(cli: CliRunner, *args: str, input: str | None = None) -> Result:
    return cli.invoke(main, list(args), input=input)


def test_credentials_print_everything_infinity_needs(cli: CliRunner) -> None:
    first = run(cli, "pexip", "credentials")
    assert first.exit_code == 0, first.output
    assert "Policy server URL:   https://meet.example.com/api/pexip/" in first.output
    assert "Event sink URL:      https://meet.example.com/api/pexip/event_sink" in first.output
    again = run(cli, "pexip", "credentials")
    assert again.output == first.output  # stable until regenerated
    regenerated = run(cli, "pexip", "credentials", "--regenerate", input="y\n")
    assert regenerated.exit_code == 0
    password = [line for line in first.output.splitlines() if line.startswith("Password")]
    assert password[0] not in regenerated.output
    declined = run(cli, "pexip", "credentials", "--regenerate", input="n\n")
    assert declined.exit_code != 0


def test_settings_show_and_set(cli: CliRunner) -> None:
    shown = run(cli, "settings", "show", "--json")
    assert orjson.loads(shown.output)["alias_prefix"] == "matt-"
    assert run(cli, "settings", "set", "ringing_timeout", "45").exit_code == 0
    assert run(cli, "settings", "set", "display_name", "nickname").exit_code == 0
    values = orjson.loads(run(cli, "settings", "show", "--json").output)
    assert values["ringing_timeout"] == 45 and values["display_name"] == "nickname"
    human = run(cli, "settings", "show").output
    assert "ringing_timeout = 45" in human and "Ringing timeout" in human


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("colour", "blue"), "unknown setting 'colour'"),
        (("ringing_timeout", "-5"), "invalid value '-5' for ringing_timeout"),
        (("show_notifications", "perhaps"), "show_notifications"),
        (("pexip_node", "http://x/"), "pexip_node"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    cli: CliRunner, args: tuple[str, str], fragment: str
) -> None:
    before = run(cli, "settings", "show", "--json").output
    result = run(cli, "settings", "set", *args)
    assert result.exit_code != 0
    assert fragment in result.output
    assert run(cli, "settings", "show", "--json").output == before


def test_channel_filter(cli: CliRunner) -> None:
    channel = "k3f9q1x7ab8cd2ef4gh6ij8kl0"
    assert "every channel may hold meetings" in run(cli, "channels", "list").output
    assert run(cli, "channels", "disallow", channel).exit_code == 0
    assert f"{channel}  disallowed" in run(cli, "channels", "list").output
    assert run(cli, "channels", "allow", channel.upper()).exit_code == 0
    assert f"{channel}  allowed" in run(cli, "channels", "list").output
    bad = run(cli, "channels", "disallow", "town-square")
    assert bad.exit_code != 0 and "not a Mattermost channel id" in bad.output


def test_meetings_json_when_nothing_happened(cli: CliRunner) -> None:
    result = run(cli, "meetings", "--json")
    assert result.exit_code == 0
    assert orjson.loads(result.output) == {"in_progress": [], "recent": []}
    assert "In progress (0)" in run(cli, "meetings").output


def test_outbox_dead_lists_and_retry_requeues_undelivered_updates(
    cli: CliRunner, database_url: str
) -> None:
    async def make_dead() -> None:
        database = open_database(database_url)
        try:
            async with database.transaction() as conn:
                await outbox_repo.enqueue(conn, "card.sync", {"meeting_id": 1}, 1.0, "card:1")
                (item,) = await outbox_repo.claim(conn, 2.0, 10, 120.0)
                await outbox_repo.give_up(conn, item, 3.0, "create card: 403 no permission")
        finally:
            await database.close()

    assert "No undelivered updates." in run(cli, "outbox", "dead").output
    asyncio.run(make_dead())
    listed = run(cli, "outbox", "dead")
    assert (
        "card.sync  card:1  1 attempt(s)" in listed.output and "403 no permission" in listed.output
    )
    (dead,) = orjson.loads(run(cli, "outbox", "dead", "--json").output)
    assert dead["kind"] == "card.sync"
    refused = run(cli, "outbox", "retry")
    assert refused.exit_code != 0 and "--all" in refused.output
    retried = run(cli, "outbox", "retry", str(dead["id"]))
    assert retried.exit_code == 0 and "Queued 1 update(s) again." in retried.output
    assert "No undelivered updates." in run(cli, "outbox", "dead").output


def test_migrate_waits_for_the_database_then_says_it_did_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Containers start PostgreSQL and `meetbridge migrate --wait` together."""
    import socket
    import time

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", f"postgresql://mb@127.0.0.1:{port}/mb")
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    started = time.monotonic()
    result = CliRunner().invoke(main, ["migrate", "--wait", "1.5"])
    assert result.exit_code == 1 and time.monotonic() - started >= 1.5
    assert "no answer from the database" in result.output
