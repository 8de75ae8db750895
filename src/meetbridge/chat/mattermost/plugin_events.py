"""meetbridge → companion plugin: events the plugin publishes to Mattermost clients.

The plugin turns each into the WebSocket event ``custom_<plugin id>_<event>`` for one channel
or one user (incoming call, meeting state). Calls are signed like the plugin's own
(domain/plugin_signature.py) and carry no Mattermost credentials: a bot token would make
Mattermost name the bot as the caller, which the plugin rightly refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import structlog

from meetbridge.clock import Clock
from meetbridge.domain.plugin_signature import signed_headers

log = structlog.get_logger(__name__)

PLUGIN_ID = "com.meetbridge.companion"
EVENTS_PATH = "/api/v1/events"  # as the plugin routes it, below /plugins/<id>


class PluginEvents:
    def __init__(self, http: httpx2.AsyncClient, secret: Callable[[], str], clock: Clock) -> None:
        """``http``: an unauthenticated client whose base URL is Mattermost's."""
        self._http = http
        self._secret = secret
        self._clock = clock

    async def publish(
        self,
        event: str,
        data: dict[str, Any],
        *,
        channel_id: str = "",
        user_id: str = "",
    ) -> bool:
        """Have the plugin publish ``event`` to one channel or one user; False when the plugin
        is absent, not set up, or refused (meetbridge's own bot posts remain the fallback)."""
        status = await self.send(event, data, channel_id=channel_id, user_id=user_id)
        if status is not None and status != 204:
            log.warning("plugin.event_refused", plugin_event=event, status=status)
        return status == 204

    async def send(
        self,
        event: str,
        data: dict[str, Any],
        *,
        channel_id: str = "",
        user_id: str = "",
    ) -> int | None:
        """The plugin's answer to a signed event (204: published, 401: the shared secrets
        differ, 404: no plugin); None when meetbridge has no secret or nothing answered."""
        secret = self._secret()
        if not secret:
            return None
        body = orjson.dumps(
            {"event": event, "data": data, "channel_id": channel_id, "user_id": user_id}
        )
        headers = signed_headers(secret, "POST", EVENTS_PATH, "", body, self._clock.now())
        try:
            response = await self._http.post(
                f"/plugins/{PLUGIN_ID}{EVENTS_PATH}",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
        except httpx2.HTTPError as exc:
            log.warning(
                "plugin.event_undelivered", plugin_event=event, error=exc.__class__.__name__
            )
            return None
        return response.status_code
