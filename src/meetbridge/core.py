"""Opening what every entry point needs: database, keys, clock.

Used by the web application's lifespan and by the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meetbridge import crypto
from meetbridge.clock import Clock, SystemClock
from meetbridge.config import ServiceConfig
from meetbridge.domain.tokens import TokenCodec
from meetbridge.store import deployment_repo, migrate
from meetbridge.store.database import Database, open_database


class StartupError(Exception):
    """meetbridge cannot start as configured; the message tells the admin what to do."""


@dataclass
class Core:
    config: ServiceConfig
    database: Database
    master_key: bytes = field(repr=False)
    clock: Clock

    @property
    def box(self) -> crypto.SecretBox:
        return crypto.SecretBox(crypto.derive_key(self.master_key, "meetbridge/secrets-at-rest"))

    @property
    def call_tags(self) -> crypto.Signer:
        return crypto.Signer(crypto.derive_key(self.master_key, "meetbridge/call-tags"))

    @property
    def button_signer(self) -> crypto.Signer:
        return crypto.Signer(crypto.derive_key(self.master_key, "meetbridge/buttons"))

    @property
    def links(self) -> TokenCodec:
        return TokenCodec(crypto.derive_key(self.master_key, "meetbridge/links"))

    @property
    def controls(self) -> TokenCodec:
        """Bearer tokens of the meeting page's control API (one device in one meeting)."""
        return TokenCodec(crypto.derive_key(self.master_key, "meetbridge/meeting-controls"))

    async def close(self) -> None:
        await self.database.close()


def load_master_key(config: ServiceConfig) -> bytes:
    try:
        if config.secret_key is not None:
            return crypto.decode_master_key(config.secret_key.get_secret_value())
        return crypto.load_or_create_key_file(config.effective_secret_key_file)
    except crypto.SecretKeyError as exc:
        raise StartupError(f"MEETBRIDGE_SECRET_KEY: {exc}") from exc


async def open_core(config: ServiceConfig, clock: Clock | None = None) -> Core:
    database = open_database(config.effective_database_url)
    return Core(config, database, load_master_key(config), clock or SystemClock())


async def prepare_schema(core: Core, auto_migrate: bool) -> None:
    """Migrate (SQLite, single process) or insist the schema is current (shared databases)."""
    if auto_migrate:
        await migrate.upgrade(core.database)
    elif not await migrate.is_current(core.database):
        raise StartupError("the database schema is not current: run `meetbridge migrate` first")
    await _check_key_fingerprint(core)


async def _check_key_fingerprint(core: Core) -> None:
    """Refuse to start with a key that cannot open the secrets already stored."""
    fingerprint = crypto.Signer(core.master_key).sign("meetbridge key fingerprint", 16)
    async with core.database.transaction() as conn:
        stored = await deployment_repo.set_if_missing(
            conn, deployment_repo.KEY_FINGERPRINT, fingerprint
        )
    if stored != fingerprint:
        raise StartupError(
            "this database was set up with a different secret key: set MEETBRIDGE_SECRET_KEY "
            "(or MEETBRIDGE_SECRET_KEY_FILE) to the key it was created with"
        )
