"""Runtime settings: what an admin changes while meetbridge runs.

They mirror the Pexip plugin's System Console settings (same meaning) plus what Infinity's policy
answers need. They are stored in the database, so every replica sees the same values; this module
only defines and validates them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from meetbridge.domain.aliases import PREFIX_PATTERN
from meetbridge.domain.users import DisplayNameStyle

# Layout names accepted by Infinity for a conference ("view").
ConferenceLayout = Literal[
    "one_main_zero_pips",
    "one_main_seven_pips",
    "one_main_twentyone_pips",
    "two_mains_twentyone_pips",
    "one_main_thirtythree_pips",
    "four_mains_zero_pips",
    "nine_mains_zero_pips",
    "sixteen_mains_zero_pips",
    "twentyfive_mains_zero_pips",
    "five_mains_seven_pips",
]

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RuntimeSettings(BaseModel):
    """Admin settings. Field descriptions double as the help text of the CLI and admin console."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    pexip_node: str = Field(
        "",
        description="Pexip Infinity server: FQDN or IP address of the Conferencing Node (or the "
        "common DNS pool name of several nodes) that browsers connect to.",
    )
    webapp_path: str = Field(
        "webapp3",
        description="Path of the Pexip web app on the node (a branded path if you use one).",
    )
    alias_prefix: str = Field(
        "matt-",
        description="Prefix of the meeting aliases: alias = prefix + channel id. The default "
        "matches existing Pexip plugin deployments.",
    )
    display_name: DisplayNameStyle = Field(
        DisplayNameStyle.USERNAME,
        description="Participant display name: username, nickname or full_name (first and last "
        "name); falls back to the username when the chosen field is empty.",
    )
    direct_media_dms: bool = Field(
        False,
        description="Direct media for DMs: in direct-message meetings, send media directly between "
        "the two participants (end-to-end encrypted) when both can.",
    )
    embedded_experience: bool = Field(
        False,
        description="Embedded experience: join links open meetbridge's own meeting page; when off "
        "they open the Pexip web app.",
    )
    show_notifications: bool = Field(
        True, description="Show start/end notifications: post a meeting card in the channel."
    )
    ringing_timeout: int = Field(
        30,
        ge=0,
        le=600,
        description="Ringing timeout (seconds) for direct and group messages; 0 disables ringing.",
    )
    allow_guests: bool = Field(
        False,
        description="Allow guests: meetings get a separate guest PIN; channel members join as "
        "hosts.",
    )
    crypto_mode: Literal["", "besteffort", "on", "off"] = Field(
        "besteffort",
        description="Media encryption: besteffort, on, off; empty for Infinity's global setting.",
    )
    ivr_theme_name: str = Field(
        "",
        max_length=250,
        description="Theme configured in Infinity for meetbridge meetings (empty: default theme).",
    )
    conference_layout: ConferenceLayout = Field(
        "five_mains_seven_pips", description="Layout of the meeting video (Infinity view name)."
    )
    enable_overlay_text: bool = Field(True, description="Show participant names over their video.")
    enable_chat: Literal["default", "yes", "no"] = Field(
        "yes", description="In-meeting chat: yes, no, or default (Infinity's global setting)."
    )
    default_engine: Literal["livekit", "pexip", "zoom"] = Field(
        "livekit",
        description="Meeting engine of channels that have not chosen one (/meet engine). New "
        "installs start with livekit; an install upgraded from a version without LiveKit keeps "
        "pexip.",
    )
    zoom_url: str = Field(
        "",
        description="Zoom URL for a self-hosted Zoom (OAuth and join links); empty for zoom.us.",
    )
    zoom_api_url: str = Field(
        "", description="Zoom API URL for a self-hosted Zoom; empty for https://api.zoom.us/v2."
    )
    zoom_account_level: bool = Field(
        False,
        description="Zoom OAuth by account-level app: an admin connects once and users are "
        "matched by their Mattermost email; otherwise each user connects their own account.",
    )
    zoom_client_id: str = Field("", max_length=200, description="Client ID of the Zoom OAuth app.")
    zoom_restrict_public_channels: bool = Field(
        False, description="Do not start Zoom meetings in public channels."
    )
    zoom_post_recording_password: bool = Field(
        False, description="Include the recording password when posting Zoom recording links."
    )
    outbox_retention_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days delivered Mattermost updates are kept before being pruned "
        "(undeliverable ones stay until retried: meetbridge outbox dead|retry).",
    )

    livekit_url: str = Field(
        "",
        description="LiveKit server URL as browsers reach it (wss://...; ws:// only on "
        "loopback). MEETBRIDGE_LIVEKIT_URL overrides it.",
    )
    livekit_api_key: str = Field(
        "",
        max_length=200,
        description="LiveKit API key (MEETBRIDGE_LIVEKIT_API_KEY overrides it).",
    )
    livekit_max_participants: int = Field(
        100, ge=1, le=10000, description="Most people in one LiveKit meeting (devices count)."
    )

    recording_max_minutes: int = Field(
        60, ge=1, le=24 * 60, description="Longest LiveKit recording; it stops at this limit."
    )
    recording_reminder_minutes: int = Field(
        10, ge=0, le=24 * 60, description="Minutes before the limit when the meeting is warned."
    )
    recording_min_free_mb: int = Field(
        500,
        ge=0,
        le=10**7,
        description="Free disk space (MB) below which recording stops, or will not start.",
    )
    transcription_enabled: bool = Field(
        True, description="Post a transcript (with speaker names) after each LiveKit recording."
    )
    transcription_language: str = Field(
        "",
        pattern=r"^([a-z]{2,3})?$",
        description="Language spoken in meetings (ISO 639-1 code such as en); empty: detected.",
    )
    captions_language: str = Field(
        "",
        pattern=r"^([a-z]{2,3})?$",
        description="Language of live captions (ISO 639-1 code such as en); empty: detected "
        "for each speaker.",
    )

    @field_validator("livekit_url")
    @classmethod
    def _check_livekit_url(cls, value: str) -> str:
        return livekit_url(value)

    @field_validator("zoom_url", "zoom_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[\w./-]*)?", value):
            raise ValueError("must be an http(s) URL such as https://zoom.example.com")
        return value

    @field_validator("pexip_node")
    @classmethod
    def _check_node(cls, value: str) -> str:
        value = value.strip()
        if value and not _HOST.fullmatch(value):
            raise ValueError("must be a host name or IP address, optionally with :port")
        return value

    @field_validator("webapp_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        value = value.strip("/ ")
        if not _PATH_SEGMENT.fullmatch(value):
            raise ValueError("must be letters, digits, '-' or '_' (for example webapp3)")
        return value

    @field_validator("alias_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not re.fullmatch(PREFIX_PATTERN, value):
            raise ValueError(
                "must be 1-32 lower-case letters, digits, '.', '-' or '_', starting with a letter "
                "or digit"
            )
        return value

    @field_validator("display_name", mode="before")
    @classmethod
    def _accept_plugin_names(cls, value: Any) -> Any:
        # Accept the Pexip plugin's spelling so configurations can be carried over.
        return "full_name" if value == "firstAndLastName" else value


def livekit_url(value: str) -> str:
    """A LiveKit URL as browsers use it: wss://host[:port] (https:// is accepted and written
    as wss://); ws:// only on loopback, where there is no network to protect."""
    value = value.strip().rstrip("/")
    if not value:
        return value
    if not re.fullmatch(r"(wss|ws|https|http)://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value):
        raise ValueError("must be a LiveKit URL such as wss://livekit.example.com")
    value = re.sub(r"^http", "ws", value)
    if value.startswith("ws://") and not _is_loopback_url(value):
        raise ValueError("plain ws:// is accepted only on loopback; use wss://")
    return value


def _is_loopback_url(url: str) -> bool:
    host = url.split("://", 1)[1].rsplit(":", 1)[0]
    return host in ("localhost", "::1") or host.startswith("127.")


SETTING_KEYS: tuple[str, ...] = tuple(RuntimeSettings.model_fields)

# Settings that are secrets: stored sealed (AES-GCM), never shown back, set like the others.
SECRET_SETTINGS: dict[str, str] = {
    "zoom_client_secret": "Client secret of the Zoom OAuth app.",
    "zoom_webhook_secret_token": "Secret Token of the Zoom app's event subscription (used to "
    "verify webhook signatures and answer Zoom's URL validation).",
    "livekit_api_secret": "LiveKit API secret (MEETBRIDGE_LIVEKIT_API_SECRET overrides it).",
    "plugin_shared_secret": "Shared secret of the companion Mattermost plugin (its System "
    "Console setting; at least 32 characters). Signs every call between the two.",
}
# Secrets that are keys rather than passwords someone else issued: a floor on their length.
SECRET_MIN_LENGTHS: dict[str, int] = {"plugin_shared_secret": 32}


class SettingError(ValueError):
    """A setting name or value was refused; the message says why, for a human."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def checked_secret(key: str, value: str) -> str:
    """The value to store for one of SECRET_SETTINGS (stripped); raises SettingError."""
    if key not in SECRET_SETTINGS:
        raise SettingError(f"{key!r} is not a secret setting", key)
    value = value.strip()
    shortest = SECRET_MIN_LENGTHS.get(key, 1)
    if len(value) > 500:
        raise SettingError(f"invalid value for {key}: at most 500 characters", key)
    if len(value) < shortest:
        what = "must not be empty" if shortest == 1 else f"at least {shortest} characters"
        raise SettingError(f"invalid value for {key}: {what}", key)
    return value


def describe_settings() -> dict[str, str]:
    return {key: field.description or "" for key, field in RuntimeSettings.model_fields.items()}


def apply_change(current: RuntimeSettings, key: str, raw_value: Any) -> RuntimeSettings:
    """Return ``current`` with one setting changed, validated; raise SettingError otherwise."""
    if key not in RuntimeSettings.model_fields:
        raise SettingError(
            f"unknown setting {key!r}; known settings: {', '.join(SETTING_KEYS)}", key
        )
    try:
        return RuntimeSettings.model_validate({**current.model_dump(), key: raw_value})
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors())
        raise SettingError(f"invalid value {raw_value!r} for {key}: {problems}", key) from exc


def settings_from_stored(stored: dict[str, Any]) -> RuntimeSettings:
    """Build settings from stored values, ignoring keys a newer or older version left behind."""
    known = {key: value for key, value in stored.items() if key in RuntimeSettings.model_fields}
    try:
        return RuntimeSettings.model_validate(known)
    except ValidationError:
        # One bad stored value must not take the service down: keep the valid ones.
        valid: dict[str, Any] = {}
        for key, value in known.items():
            try:
                RuntimeSettings.model_validate({key: value})
            except ValidationError:
                continue
            valid[key] = value
        return RuntimeSettings.model_validate(valid)
