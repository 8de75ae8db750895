"""``meetbridge migrate --wait``: the database may be starting beside meetbridge."""

from __future__ import annotations

import asyncio

import click

from meetbridge.store import readiness


def wait_for_database(url: str, seconds: float) -> None:
    try:
        asyncio.run(readiness.wait_for_database(url, seconds))
    except Exception as exc:
        raise click.ClickException(f"no answer from the database: {exc}") from exc
