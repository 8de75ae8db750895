from __future__ import annotations

import pytest

from meetbridge.domain.settings import (
    SETTING_KEYS,
    RuntimeSettings,
    SettingError,
    apply_change,
    describe_settings,
    settings_from_stored,
)
from meetbridge.domain.users import DisplayNameStyle


def test_defaults_match_the_pexip_plugin() -> None:
    settings = RuntimeSettings()
    assert settings.alias_prefix == "matt-"
    assert settings.display_name is DisplayNameStyle.USERNAME
    assert settings.embedded_experience is False
    assert settings.show_notifications is True
    assert settings.direct_media_dms is False


def test_every_setting_has_help_text() -> None:
    assert set(describe_settings()) == set(SETTING_KEYS)
    assert all(len(text) > 10 for text in describe_settings().values())


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("ringing_timeout", "45", 45),
        ("ringing_timeout", "0", 0),
        ("show_notifications", "false", False),
        ("show_notifications", "on", True),
        ("display_name", "nickname", DisplayNameStyle.NICKNAME),
        ("display_name", "firstAndLastName", DisplayNameStyle.FULL_NAME),
        ("pexip_node", "pexip.example.com", "pexip.example.com"),
        ("pexip_node", "10.0.0.5:8443", "10.0.0.5:8443"),
        ("alias_prefix", "mm.", "mm."),
        ("crypto_mode", "", ""),
    ],
)
def test_changes_are_validated_and_coerced(key: str, raw: str, expected: object) -> None:
    assert getattr(apply_change(RuntimeSettings(), key, raw), key) == expected


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("no_such_setting", "1", "unknown setting"),
        ("ringing_timeout", "-1", "ringing_timeout"),
        ("ringing_timeout", "601", "ringing_timeout"),
        ("ringing_timeout", "soon", "ringing_timeout"),
        ("show_notifications", "maybe", "show_notifications"),
        ("display_name", "email", "display_name"),
        ("pexip_node", "https://pexip.example.com/", "host name"),
        ("alias_prefix", "Matt-", "lower-case"),
        ("alias_prefix", "", "lower-case"),
        ("crypto_mode", "strong", "crypto_mode"),
    ],
)
def test_bad_changes_are_refused_with_a_reason(key: str, raw: str, fragment: str) -> None:
    with pytest.raises(SettingError, match=fragment):
        apply_change(RuntimeSettings(), key, raw)


def test_a_bad_stored_value_does_not_poison_the_others() -> None:
    settings = settings_from_stored(
        {"ringing_timeout": "forever", "alias_prefix": "mm-", "removed_setting": 1}
    )
    assert settings.alias_prefix == "mm-"
    assert settings.ringing_timeout == RuntimeSettings().ringing_timeout


def test_outbox_retention_is_a_week_by_default_and_at_least_a_day() -> None:
    assert RuntimeSettings().outbox_retention_days == 7
    assert (
        apply_change(RuntimeSettings(), "outbox_retention_days", "30").outbox_retention_days == 30
    )
    with pytest.raises(SettingError):
        apply_change(RuntimeSettings(), "outbox_retention_days", "0")
