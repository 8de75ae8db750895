"""What an admin running meetbridge in production relies on: /metrics behind a bearer token when
one is configured, a minimal /healthz, and a secret key that can live outside the data directory
(so that a backup of the data does not carry the key that opens it)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from meetbridge.config import ServiceConfig, load_config
from meetbridge.core import (
    StartupError,
    key_storage_warnings,
    load_master_key,
    load_metrics_token,
)
from meetbridge.crypto import generate_master_key
from meetbridge.web import app as app_module
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running

METRICS_TOKEN = "prometheus-scrape-token-0123456789"


def sqlite_config(tmp_path: Path, **overrides: object) -> ServiceConfig:
    settings: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": f"sqlite:///{tmp_path / 'meetbridge.db'}",
        "secret_key": base64.b64encode(generate_master_key()).decode(),
        "public_url": "https://meetbridge.example.com",
        **overrides,
    }
    return ServiceConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[RunningApp]:
    """meetbridge with MEETBRIDGE_METRICS_TOKEN set."""
    app = create_app(
        sqlite_config(tmp_path, metrics_token=METRICS_TOKEN), auto_migrate=True, background=False
    )
    async with running(app) as service:
        yield service


# --- /metrics and /healthz ---------------------------------------------------------------------


async def test_metrics_with_a_token_configured_refuse_a_request_without_it(
    guarded: RunningApp,
) -> None:
    response = await guarded.http.get("/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "meetbridge_" not in response.text
    assert "bearer token" in response.json()["error"]


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        "Bearer ",
        "Bearer",
        f"Basic {METRICS_TOKEN}",
        METRICS_TOKEN,
        f"Bearer {METRICS_TOKEN} extra",
        "Bearer \u00e9t\u00e9-not-the-token",  # latin-1 bytes in the header
    ],
)
async def test_metrics_refuse_a_wrong_or_malformed_bearer_token(
    guarded: RunningApp, authorization: str
) -> None:
    response = await guarded.http.get(
        "/metrics", headers={b"Authorization": authorization.encode("latin-1")}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "meetbridge_" not in response.text


async def test_metrics_answer_the_right_bearer_token(guarded: RunningApp) -> None:
    for scheme in ("Bearer", "bearer"):
        response = await guarded.http.get(
            "/metrics", headers={"Authorization": f"{scheme} {METRICS_TOKEN}"}
        )
        assert response.status_code == 200
        assert "meetbridge_" in response.text


async def test_metrics_stay_open_when_no_token_is_configured(tmp_path: Path) -> None:
    async with running(
        create_app(sqlite_config(tmp_path), auto_migrate=True, background=False)
    ) as service:
        response = await service.http.get("/metrics")
    assert response.status_code == 200
    assert "meetbridge_" in response.text


async def test_healthz_needs_no_token_and_says_only_whether_it_is_up(
    guarded: RunningApp,
) -> None:
    response = await guarded.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_metrics_token_is_read_from_the_file_the_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text(METRICS_TOKEN + "\n")
    monkeypatch.setenv("MEETBRIDGE_METRICS_TOKEN_FILE", str(token_file))
    assert load_metrics_token(load_config()) == METRICS_TOKEN.encode()
    monkeypatch.delenv("MEETBRIDGE_METRICS_TOKEN_FILE")
    monkeypatch.setenv("MEETBRIDGE_METRICS_TOKEN", METRICS_TOKEN)
    assert load_metrics_token(load_config()) == METRICS_TOKEN.encode()
    monkeypatch.delenv("MEETBRIDGE_METRICS_TOKEN")
    assert load_metrics_token(load_config()) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"metrics_token": "short"}, "at least 16"),
        ({"metrics_token": "has spaces in the middle of it"}, "at least 16"),
        ({"metrics_token": "caf\u00e9-caf\u00e9-caf\u00e9-caf\u00e9"}, "at least 16"),
        ({"metrics_token_file": Path("/nonexistent/metrics.token")}, "cannot be read"),
    ],
)
def test_an_unusable_metrics_token_stops_the_start_with_a_reason(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(StartupError, match=message):
        load_metrics_token(sqlite_config(tmp_path, **overrides))


def test_the_metrics_token_and_its_file_are_not_both_accepted(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text(METRICS_TOKEN)
    config = sqlite_config(tmp_path, metrics_token=METRICS_TOKEN, metrics_token_file=token_file)
    with pytest.raises(StartupError, match="not both"):
        load_metrics_token(config)


# --- the secret key file -----------------------------------------------------------------------


def test_the_secret_key_file_variable_is_used_outside_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_master_key()
    key_file = tmp_path / "keys" / "meetbridge.key"
    key_file.parent.mkdir()
    key_file.write_text(base64.b64encode(key).decode() + "\n")
    key_file.chmod(0o600)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEY_FILE", str(key_file))
    monkeypatch.delenv("MEETBRIDGE_SECRET_KEY", raising=False)

    config = load_config()
    assert load_master_key(config) == key
    assert not (data_dir / "secret.key").exists()  # no second key next to the database
    assert key_storage_warnings(config) == []


def test_a_named_secret_key_file_that_is_missing_stops_the_start(tmp_path: Path) -> None:
    """A missing secret volume must not silently become a fresh key that opens nothing."""
    missing = tmp_path / "not-mounted" / "meetbridge.key"
    config = ServiceConfig(data_dir=tmp_path / "data", secret_key_file=missing)
    with pytest.raises(StartupError, match=r"MEETBRIDGE_SECRET_KEY_FILE.*does not exist"):
        load_master_key(config)
    assert not missing.exists()


@pytest.mark.parametrize("content", [b"not base64 at all", b"\xff\xfe binary", b""])
def test_a_malformed_secret_key_file_stops_the_start_with_a_reason(
    tmp_path: Path, content: bytes
) -> None:
    key_file = tmp_path / "meetbridge.key"
    key_file.write_bytes(content)
    config = ServiceConfig(data_dir=tmp_path / "data", secret_key_file=key_file)
    with pytest.raises(StartupError, match="MEETBRIDGE_SECRET_KEY_FILE"):
        load_master_key(config)


def test_a_key_file_inside_the_data_directory_is_warned_about(tmp_path: Path) -> None:
    config = ServiceConfig(data_dir=tmp_path)  # the default: generated into data_dir
    load_master_key(config)
    [warning] = key_storage_warnings(config)
    assert "inside the data directory" in warning
    assert "MEETBRIDGE_SECRET_KEY_FILE" in warning


def test_a_key_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "meetbridge.key"
    key_file.parent.mkdir()
    key_file.write_text(base64.b64encode(generate_master_key()).decode())
    key_file.chmod(0o644)
    config = ServiceConfig(data_dir=tmp_path / "data", secret_key_file=key_file)
    [warning] = key_storage_warnings(config)
    assert "chmod 600" in warning


async def test_the_key_storage_warning_is_logged_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ServiceConfig(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'meetbridge.db'}"
    )
    # A test that ran the CLI configured structlog to cache loggers on first use, and a cached
    # logger never reaches capture_logs: log through a fresh one.
    monkeypatch.setattr(app_module, "log", structlog.get_logger("meetbridge.web.app"))
    with capture_logs() as logs:
        async with running(create_app(config, auto_migrate=True, background=False)):
            pass
    warnings = [entry for entry in logs if entry["event"] == "secret_key.storage"]
    assert warnings, logs
    assert warnings[0]["log_level"] == "warning"
    assert "inside the data directory" in warnings[0]["problem"]
