"""Settings from files (MEETBRIDGE_<NAME>_FILE), as container and Kubernetes secrets arrive."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.secret_files import read_secret_files


def test_each_secret_setting_comes_from_its_file_without_surrounding_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "MATTERMOST_TOKEN": "bot-token-from-file",
        "LIVEKIT_API_KEY": "APIkey",
        "LIVEKIT_API_SECRET": "s3cret/with+signs=",
        "DATABASE_URL": "postgresql://meetbridge@db.internal:5432/meetbridge",
        "DATABASE_PASSWORD": "p@ss/w:rd",
    }
    for name, value in files.items():
        path = tmp_path / name.lower()
        path.write_text(f"{value}\n")
        monkeypatch.setenv(f"MEETBRIDGE_{name}_FILE", str(path))
    config = ServiceConfig()
    assert config.mattermost_token is not None
    assert config.mattermost_token.get_secret_value() == "bot-token-from-file"
    assert config.livekit_api_key == "APIkey"
    assert config.livekit_api_secret is not None
    assert config.livekit_api_secret.get_secret_value() == "s3cret/with+signs="
    # The password is put into the URL, escaped: '@', '/' and ':' stay part of it.
    assert config.effective_database_url == (
        "postgresql://meetbridge:p%40ss%2Fw%3Ard@db.internal:5432/meetbridge"
    )


def test_a_named_file_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    with pytest.raises(ValueError, match=r"MEETBRIDGE_MATTERMOST_TOKEN_FILE: .*not-mounted"):
        read_secret_files({"MEETBRIDGE_MATTERMOST_TOKEN_FILE": str(missing)})


def test_the_variable_and_its_file_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("one")
    environ = {
        "MEETBRIDGE_LIVEKIT_API_SECRET": "two",
        "MEETBRIDGE_LIVEKIT_API_SECRET_FILE": str(path),
    }
    with pytest.raises(ValueError, match="not both"):
        read_secret_files(environ)


def test_nothing_named_reads_nothing() -> None:
    assert read_secret_files({"MEETBRIDGE_MATTERMOST_TOKEN": "x"}) == {}
