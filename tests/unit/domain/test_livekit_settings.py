"""The LiveKit URL given to browsers: wss:// (https:// written as wss://), ws:// only on
loopback, whether it comes from the admin settings or the deployment's environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meetbridge.config import ServiceConfig
from meetbridge.domain.settings import RuntimeSettings, SettingError, apply_change


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("wss://lk.example.com", "wss://lk.example.com"),
        ("https://lk.example.com:7443/", "wss://lk.example.com:7443"),
        ("ws://127.0.0.1:7880", "ws://127.0.0.1:7880"),
        ("ws://localhost:7880", "ws://localhost:7880"),
        ("", ""),
    ],
)
def test_livekit_urls_are_written_as_browsers_use_them(given: str, used: str) -> None:
    assert apply_change(RuntimeSettings(), "livekit_url", given).livekit_url == used
    assert ServiceConfig(livekit_url=given).livekit_url == used


@pytest.mark.parametrize(
    "refused",
    ["ws://lk.example.com", "http://10.0.0.5:7880", "ftp://lk.example.com", "wss://a b", "lk"],
)
def test_plain_or_malformed_livekit_urls_are_refused(refused: str) -> None:
    with pytest.raises(SettingError):
        apply_change(RuntimeSettings(), "livekit_url", refused)
    with pytest.raises(ValidationError):
        ServiceConfig(livekit_url=refused)


def test_new_installs_default_to_livekit() -> None:
    assert RuntimeSettings().default_engine == "livekit"
