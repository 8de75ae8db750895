"""Process configuration: where meetbridge listens, which database, how to reach Mattermost.

Read once at start-up from ``MEETBRIDGE_*`` environment variables, optionally layered over a TOML
file named by ``MEETBRIDGE_CONFIG_FILE``. Settings an admin changes at run time (Pexip node,
display names, the channel filter, ...) are *not* here: they live in the database so that every
replica sees the same values (see ``domain/settings.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from meetbridge.domain.settings import livekit_url
from meetbridge.secret_files import SecretFilesSource

DEFAULT_DATA_DIR = Path("var")


class ServiceConfig(BaseSettings):
    """Everything meetbridge needs to know before it can open its database."""

    model_config = SettingsConfigDict(env_prefix="MEETBRIDGE_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    public_url: str = Field(
        "",
        description="Base URL Infinity and browsers use to reach meetbridge; default http://host:port",
    )
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite file in data_dir")
    database_password: SecretStr | None = Field(
        None, description="password put into database_url (e.g. from the database's secret file)"
    )
    secret_key: SecretStr | None = Field(
        None, description="base64 of 32 random bytes; default: generated into data_dir/secret.key"
    )
    secret_key_file: Path | None = Field(
        None, description="file holding the key; keep it outside data_dir (backups)"
    )
    metrics_token: SecretStr | None = Field(
        None, description="bearer token /metrics requires (Prometheus authorization); default open"
    )
    metrics_token_file: Path | None = None
    mattermost_url: str = ""
    mattermost_public_url: str = Field(
        "", description="Mattermost's URL as browsers see it; default mattermost_url"
    )
    mattermost_token: SecretStr | None = None
    command_trigger: str = Field("meet", pattern="^[a-z0-9][a-z0-9._-]{0,127}$")
    # Mattermost look-ups on the policy path must finish well inside Infinity's 5 s budget.
    mattermost_lookup_timeout: float = Field(1.5, gt=0, le=4.0)
    # How long a replica that died keeps its claimed outbox items (renewed while delivering).
    outbox_lease: float = Field(15.0, ge=0.3, le=600.0)
    applier_priority: str = Field(
        "normal",
        pattern="^(normal|high)$",
        description="replicas on PostgreSQL: one of high priority applies events whenever it "
        "runs (give it no traffic, so that applying never delays an acknowledgement)",
    )
    # A LiveKit given by the deployment (environment) wins over the admin settings.
    recording_dir: Path | None = Field(
        None, description="where LiveKit recordings are written; default: data_dir/recordings"
    )
    transcription_model: Path | None = Field(
        None,
        description="directory of a faster-whisper (CTranslate2) model; default: the packaged "
        "Whisper base model, reassembled into data_dir/models",
    )
    transcription_model_sha256: str = Field(
        "", pattern="^([0-9a-f]{64})?$", description="sha256 of transcription_model's model.bin"
    )
    transcription_workers: int = Field(1, ge=1, le=16, description="transcripts made at once")
    transcription_threads: int = Field(
        0, ge=0, le=64, description="CPU threads per transcript; 0: the CPU's cores"
    )
    livekit_url: str = ""
    livekit_api_key: str = ""
    livekit_api_secret: SecretStr | None = None
    log_level: str = "info"
    log_format: str = Field("console", pattern="^(console|json)$")
    server: str = Field("granian", pattern="^(granian|uvicorn)$")

    @field_validator("livekit_url")
    @classmethod
    def _check_livekit_url(cls, value: str) -> str:
        return livekit_url(value)

    @field_validator("public_url", "mattermost_url", "mattermost_public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
        ]
        config_file = os.environ.get("MEETBRIDGE_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url and self.database_password is not None:
            password = self.database_password.get_secret_value()
            url = make_url(self.database_url).set(password=password)
            return url.render_as_string(hide_password=False)
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'meetbridge.db').as_posix()}"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def effective_recording_dir(self) -> Path:
        return self.recording_dir or self.data_dir / "recordings"

    @property
    def effective_secret_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def policy_base_url(self) -> str:
        return f"{self.effective_public_url}/api/pexip/"

    @property
    def event_sink_url(self) -> str:
        return f"{self.effective_public_url}/api/pexip/event_sink"


def load_config(**overrides: Any) -> ServiceConfig:
    """Read the configuration; ``overrides`` (tests, the CLI) win over the environment."""
    return ServiceConfig(**overrides)
