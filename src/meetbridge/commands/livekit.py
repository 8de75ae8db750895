"""``meetbridge livekit config``: the configuration of the LiveKit node beside meetbridge."""

from __future__ import annotations

import os
from pathlib import Path

import click

from meetbridge.config import ServiceConfig
from meetbridge.engines.livekit.production_config import (
    LiveKitDeployment,
    production_config,
    render,
)


@click.group("livekit")
def livekit() -> None:
    """The LiveKit server meetbridge runs beside it."""


@livekit.command("config")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the file here (mode 0600) instead of printing it.",
)
@click.pass_obj
def config(config: ServiceConfig, output: Path | None) -> None:
    """Print livekit-server's configuration: meetbridge's API key pair, webhooks to this
    meetbridge, rooms created only by meetbridge, the RTC ports and TURN (UDP and TLS)."""
    try:
        deployment = LiveKitDeployment()
        secret = config.livekit_api_secret.get_secret_value() if config.livekit_api_secret else ""
        webhook = f"{config.effective_public_url}/api/livekit/webhook"
        text = render(production_config(deployment, config.livekit_api_key, secret, webhook))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(text, nl=False)
        return
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote {output}", err=True)
