"""``meetbridge doctor``: one line per check, with the fix; exit status 1 when one fails."""

from __future__ import annotations

import asyncio
import logging

import click

from meetbridge.config import ServiceConfig
from meetbridge.doctor.results import exit_status
from meetbridge.doctor.run import diagnose


@click.command()
@click.pass_obj
def doctor(config: ServiceConfig) -> None:
    """Check this deployment: HTTPS, Mattermost, LiveKit and TURN, Pexip, the plugin, the
    database and the clocks; print what is wrong and how to fix it."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its schema probe is not news here
    results = asyncio.run(diagnose(config))
    for result in results:
        click.echo(result.line())
    failed = sum(result.status.value == "fail" for result in results)
    click.echo(f"\n{failed} check(s) failed" if failed else "\nall checks passed", err=True)
    raise SystemExit(exit_status(results))
