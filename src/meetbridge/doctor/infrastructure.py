"""The ground everything stands on: the secret key, the database, the public URL."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx2
from sqlalchemy import text

from meetbridge import crypto
from meetbridge.core import Core, StartupError, load_master_key
from meetbridge.doctor.context import DoctorContext, database_location, reason
from meetbridge.doctor.results import CheckResult, Status, fail, ok, skip, warn
from meetbridge.services.shared_state import SharedState
from meetbridge.store import deployment_repo, migrate
from meetbridge.store.database import open_database

CERTIFICATE_WARNING_DAYS = 14


def open_core(ctx: DoctorContext) -> list[CheckResult]:
    try:
        key = load_master_key(ctx.config)
    except StartupError as exc:
        return [fail("secret key", str(exc), "give meetbridge the key it was set up with")]
    database = open_database(ctx.config.effective_database_url)
    ctx.core = Core(ctx.config, database, key, ctx.clock)
    return []


async def check_database(ctx: DoctorContext) -> list[CheckResult]:
    if ctx.core is None:
        return [skip("database", "needs the secret key")]
    where = database_location(ctx.config.effective_database_url)
    try:
        async with asyncio.timeout(6.0), ctx.core.database.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return [
            fail(
                "database",
                f"cannot reach {where}: {reason(exc)}",
                "start the database server, or correct MEETBRIDGE_DATABASE_URL",
            ),
            skip("migrations", "needs the database"),
        ]
    migrations = await _migrations(ctx.core)
    if migrations.status is not Status.OK:
        return [ok("database", f"{where} answers"), migrations]
    ctx.state = SharedState(ctx.core.database, ctx.core.box, ctx.clock)
    await ctx.state.load()
    return [ok("database", f"{where} answers"), migrations, await _key_matches(ctx.core)]


async def _migrations(core: Core) -> CheckResult:
    if await migrate.is_current(core.database):
        return ok("migrations", "the schema is current")
    return fail(
        "migrations",
        "the schema is older than this meetbridge needs (it will not start)",
        "run `meetbridge migrate` once, before starting this version",
    )


async def _key_matches(core: Core) -> CheckResult:
    async with core.database.read() as conn:
        stored = await deployment_repo.get(conn, deployment_repo.KEY_FINGERPRINT)
    fingerprint = crypto.Signer(core.master_key).sign("meetbridge key fingerprint", 16)
    if stored is None or stored == fingerprint:
        return ok("secret key", "opens the secrets stored in this database")
    return fail(
        "secret key",
        "this database was set up with a different secret key: its stored secrets cannot be read",
        "set MEETBRIDGE_SECRET_KEY_FILE to the key the database was created with",
    )


async def check_public_url(ctx: DoctorContext) -> list[CheckResult]:
    url = ctx.public_url
    name = "public URL"
    if not url.startswith("https://"):
        return [
            warn(
                name,
                f"{url} is not HTTPS: browsers and Infinity should reach meetbridge over TLS",
                "put meetbridge behind a TLS proxy and set MEETBRIDGE_PUBLIC_URL to its https URL",
            )
        ]
    try:
        answer = await ctx.http.get(f"{url}/healthz")
        expires = await _certificate_expiry(url)
    except (httpx2.HTTPError, OSError, ssl.SSLError) as exc:
        fix = (
            "install a certificate for this name from a CA browsers trust"
            if "certificate" in reason(exc)
            else "check the name's DNS and that the TLS proxy listens and forwards to meetbridge"
        )
        return [fail(name, f"{url}: {reason(exc)}", fix)]
    if answer.status_code == 503 and _says_database_unreachable(answer):
        detail = f"{url} answers over HTTPS; meetbridge there cannot reach its database"
        return [warn(name, detail, "see the database check")]
    if answer.status_code != 200:
        return [
            fail(
                name,
                f"{url}/healthz answered {answer.status_code} through the proxy",
                "point the proxy's route for this name at meetbridge",
            )
        ]
    days = (expires - datetime.now(UTC)).days
    if days < CERTIFICATE_WARNING_DAYS:
        return [warn(name, f"{url}: certificate expires in {days} days", "renew it")]
    return [ok(name, f"{url} answers over HTTPS with a trusted certificate ({days} days left)")]


def _says_database_unreachable(answer: httpx2.Response) -> bool:
    try:
        return bool(answer.json().get("database") == "unreachable")
    except ValueError:
        return False


async def _certificate_expiry(url: str) -> datetime:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl.create_default_context()), 6.0
    )
    try:
        certificate = writer.get_extra_info("peercert") or {}
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), UTC)
    finally:
        writer.close()
