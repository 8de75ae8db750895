"""The LiveKit an install uses: the deployment's environment wins over the admin settings."""

from __future__ import annotations

from meetbridge.config import ServiceConfig
from meetbridge.engines.livekit.engine import LiveKitSettings
from meetbridge.services.shared_state import SharedState


def livekit_settings(config: ServiceConfig, state: SharedState) -> LiveKitSettings:
    """The LiveKit to use: what the deployment's environment says, else the admin settings."""
    settings = state.settings
    env_secret = config.livekit_api_secret.get_secret_value() if config.livekit_api_secret else ""
    return LiveKitSettings(
        url=config.livekit_url or settings.livekit_url,
        api_key=config.livekit_api_key or settings.livekit_api_key,
        api_secret=env_secret or state.secrets.get("livekit_api_secret", ""),
        max_participants=settings.livekit_max_participants,
    )
