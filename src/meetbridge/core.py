"""Opening what every entry point needs: database, keys, clock.

Used by the web application's lifespan and by the CLI alike.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

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


KEY_FILE_HINT = "create it with: head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE"
# RFC 6750 b64token: what an Authorization: Bearer header (e.g. Prometheus') can carry.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{16,}=*")


def load_master_key(config: ServiceConfig) -> bytes:
    if config.secret_key is not None:
        try:
            return crypto.decode_master_key(config.secret_key.get_secret_value())
        except crypto.SecretKeyError as exc:
            raise StartupError(f"MEETBRIDGE_SECRET_KEY: {exc}") from exc
    if config.secret_key_file is not None:
        return _read_named_key_file(config.secret_key_file)
    try:
        return crypto.load_or_create_key_file(config.effective_secret_key_file)
    except (crypto.SecretKeyError, OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"{config.effective_secret_key_file}: {exc}") from exc


def _read_named_key_file(path: Path) -> bytes:
    """An admin-named key file must exist: generating a fresh key because a secret volume is
    not mounted would leave every stored secret unreadable."""
    if not path.exists():
        raise StartupError(f"MEETBRIDGE_SECRET_KEY_FILE: {path} does not exist; {KEY_FILE_HINT}")
    try:
        return crypto.decode_master_key(path.read_text(encoding="ascii"))
    except (crypto.SecretKeyError, OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"MEETBRIDGE_SECRET_KEY_FILE: {path}: {exc}") from exc


def key_storage_warnings(config: ServiceConfig) -> list[str]:
    """What is risky about where the key file is (logged at start; meetbridge still starts)."""
    if config.secret_key is not None:
        return []
    path = config.effective_secret_key_file
    warnings = []
    if path.resolve().is_relative_to(config.data_dir.resolve()):
        warnings.append(
            f"the secret key file {path} is inside the data directory, so a backup of that "
            "directory holds both the encrypted secrets and the key that opens them: move the "
            "key elsewhere and set MEETBRIDGE_SECRET_KEY_FILE (README: Running in production)"
        )
    try:
        mode = path.stat().st_mode
    except OSError:
        return warnings
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(
            f"the secret key file {path} is open to other users (mode {stat.filemode(mode)}): "
            "chmod 600 it"
        )
    return warnings


def load_metrics_token(config: ServiceConfig) -> bytes | None:
    """The bearer token /metrics requires, or None when /metrics is left open."""
    if config.metrics_token is not None and config.metrics_token_file is not None:
        raise StartupError(
            "set MEETBRIDGE_METRICS_TOKEN or MEETBRIDGE_METRICS_TOKEN_FILE, not both"
        )
    if config.metrics_token is not None:
        source, text = "MEETBRIDGE_METRICS_TOKEN", config.metrics_token.get_secret_value()
    elif config.metrics_token_file is not None:
        source = f"MEETBRIDGE_METRICS_TOKEN_FILE ({config.metrics_token_file})"
        try:
            text = config.metrics_token_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise StartupError(f"{source} cannot be read: {exc}") from exc
    else:
        return None
    token = text.strip()
    if not _BEARER_TOKEN.fullmatch(token):
        raise StartupError(
            f"{source}: the token must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / "
            "(what a bearer token may contain)"
        )
    return token.encode("ascii")


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
