"""A small simulator of Pexip Infinity Conferencing Nodes, as seen by meetbridge.

Infinity cannot run here, so tests drive meetbridge with requests shaped exactly as
shared/reference/pexip.md describes them:

* external-policy GET requests with their query parameters (every value a string, booleans as
  ``True``/``False``), HTTP Basic credentials;
* event-sink POSTs of version-2 envelopes ``{node, seq, version, time, event, data}``, numbered
  per node from 1 at each sink start, sent one at a time and retried until answered 2xx, with
  ``eventsink_bulk`` wrappers when bulk support is on.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx2

_call_numbers = itertools.count(1)


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class InfinityNode:
    """One Conferencing Node: builds its policy requests and numbers its sink events."""

    ip: str
    location: str = "Oslo-DC"
    version_id: str = "36"
    pseudo_version_id: str = "80112.0.0"
    seq: int = 0
    clock: float = field(default_factory=time.time)
    sent: list[dict[str, Any]] = field(default_factory=list)

    # --- external policy -------------------------------------------------------------------

    def service_configuration(
        self,
        local_alias: str,
        *,
        protocol: str = "webrtc",
        remote_display_name: str = "",
        remote_alias: str = "",
        call_direction: str = "dial_in",
        supports_direct_media: bool = True,
    ) -> dict[str, str]:
        return {
            "call_direction": call_direction,
            "protocol": protocol,
            "bandwidth": "0",
            "vendor": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
            "encryption": "On",
            "registered": "False",
            "trigger": "web" if protocol in ("webrtc", "api") else "invite",
            "local_alias": local_alias,
            "remote_alias": remote_alias,
            "remote_display_name": remote_display_name,
            "remote_address": "198.51.100.7",
            "remote_port": "52311",
            "call_tag": "",
            "idp_uuid": "",
            "has_authenticated_display_name": "False",
            "supports_direct_media": "True" if supports_direct_media else "False",
            "teams_tenant_id": "",
            "location": self.location,
            "node_ip": self.ip,
            "version_id": self.version_id,
            "pseudo_version_id": self.pseudo_version_id,
        }

    def participant_properties(
        self,
        service_name: str,
        service_tag: str,
        *,
        call_tag: str = "",
        remote_display_name: str = "",
        participant_type: str = "standard",
        protocol: str = "webrtc",
        local_alias: str = "",
        preauthenticated_role: str = "guest",
    ) -> dict[str, str]:
        """After the PIN (WebRTC): ``preauthenticated_role`` is the role the PIN gave;
        ``local_alias`` is what was dialled (by default the conference's own alias)."""
        query = self.service_configuration(
            local_alias or service_name, protocol=protocol, remote_display_name=remote_display_name
        )
        query.update(
            {
                "service_name": service_name,
                "unique_service_name": service_name,
                "service_tag": service_tag,
                "call_tag": call_tag,
                "participant_uuid": str(uuid_module.uuid4()),
                "call_uuid": str(uuid_module.uuid4()),
                "participant_type": participant_type,
                "preauthenticated_role": preauthenticated_role,
                "bypass_lock": "False",
                "receive_from_audio_mix": "main",
                "send_to_audio_mixes_mix_name": "main",
                "send_to_audio_mixes_prominent": "False",
            }
        )
        return query

    # --- event sink ------------------------------------------------------------------------

    def tick(self, seconds: float = 0.25) -> float:
        self.clock += seconds
        return self.clock

    def envelope(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        envelope = {
            "node": self.ip,
            "seq": self.seq,
            "version": 2,
            "time": self.tick(),
            "event": event,
            "data": data,
        }
        self.sent.append(envelope)
        return envelope

    def sink_started(self) -> dict[str, Any]:
        """The first event of a sink run: numbering starts again at 1."""
        self.seq = 0
        return self.envelope("eventsink_started", {})

    def conference_started(self, name: str, tag: str) -> dict[str, Any]:
        return self.envelope("conference_started", self._conference(name, tag, started=False))

    def conference_updated(self, name: str, tag: str, **changes: Any) -> dict[str, Any]:
        data = self._conference(name, tag, started=True)
        data.update(changes)
        return self.envelope("conference_updated", data)

    def conference_ended(self, name: str, tag: str) -> dict[str, Any]:
        data = self._conference(name, tag, started=True)
        data["end_time"] = self.clock + 0.1
        return self.envelope("conference_ended", data)

    def participant_connected(
        self,
        conference: str,
        tag: str,
        *,
        uuid: str | None = None,
        display_name: str = "Dana Reyes",
        role: str = "chair",
        call_tag: str = "",
        has_media: bool = True,
        protocol: str = "WebRTC",
    ) -> dict[str, Any]:
        data = self._participant(conference, tag, uuid or str(uuid_module.uuid4()))
        data.update(
            display_name=display_name,
            role=role,
            call_tag=call_tag,
            has_media=has_media,
            protocol=protocol,
            connect_time=self.clock + 0.05,
        )
        return self.envelope("participant_connected", data)

    def participant_updated(
        self, conference: str, tag: str, uuid: str, **changes: Any
    ) -> dict[str, Any]:
        data = self._participant(conference, tag, uuid)
        data.update(changes)
        return self.envelope("participant_updated", data)

    def participant_disconnected(self, conference: str, tag: str, uuid: str) -> dict[str, Any]:
        data = self._participant(conference, tag, uuid)
        data.update(
            disconnect_reason="Call disconnected", duration=30.0, end_time=self.clock + 0.05
        )
        return self.envelope("participant_disconnected", data)

    def media_stream_window(self, uuid: str) -> dict[str, Any]:
        """A v2-only event meetbridge does not use."""
        return self.envelope(
            "participant_media_stream_window",
            {"uuid": uuid, "call_quality_was": "1_good", "call_quality_now": "2_ok"},
        )

    def bulk(self, envelopes: Iterable[dict[str, Any]]) -> dict[str, Any]:
        return {
            "event": "eventsink_bulk",
            "node": self.ip,
            "seq": 0,
            "version": 2,
            "time": self.clock,
            "data": list(envelopes),
        }

    def _conference(self, name: str, tag: str, started: bool) -> dict[str, Any]:
        return {
            "name": name,
            "service_type": "conference",
            "tag": tag,
            "start_time": self.clock,
            "is_started": started,
            "is_locked": False,
            "guests_muted": False,
        }

    def _participant(self, conference: str, tag: str, uuid: str) -> dict[str, Any]:
        return {
            "uuid": uuid,
            "conference": conference,
            "call_id": f"call-{next(_call_numbers)}",
            "conversation_id": uuid,
            "related_uuids": [],
            "service_type": "conference",
            "service_tag": tag,
            "call_direction": "in",
            "destination_alias": conference,
            "source_alias": "dana@example.com",
            "is_muted": False,
            "is_client_muted": False,
            "is_presenting": False,
            "is_streaming": False,
            "is_idp_authenticated": False,
            "encryption": "On",
            "rx_bandwidth": 1024,
            "tx_bandwidth": 1024,
            "remote_address": "198.51.100.7",
            "vendor": "Chrome",
            "system_location": self.location,
            "media_node": self.ip,
            "signalling_node": self.ip,
        }


class SinkPublisher:
    """Delivers a node's events the way Infinity does: one at a time, retried until 2xx."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        url: str,
        auth: dict[str, str],
        retry_delay: float = 0.05,
        max_attempts: int = 200,
    ) -> None:
        self._http = http
        self._url = url
        self._auth = auth
        self._retry_delay = retry_delay
        self._max_attempts = max_attempts
        self.acknowledged: list[dict[str, Any]] = []

    async def post(self, envelope: dict[str, Any]) -> httpx2.Response:
        return await self._http.post(self._url, json=envelope, headers=self._auth)

    async def deliver(self, envelopes: Iterable[dict[str, Any]]) -> None:
        for envelope in envelopes:
            await self.deliver_one(envelope)

    async def deliver_one(self, envelope: dict[str, Any]) -> None:
        for _attempt in range(self._max_attempts):
            try:
                response = await self.post(envelope)
            except httpx2.HTTPError:
                await asyncio.sleep(self._retry_delay)
                continue
            if 200 <= response.status_code < 300:
                self.acknowledged.append(envelope)
                return
            if response.status_code < 500:
                raise AssertionError(f"event refused: {response.status_code} {response.text}")
            await asyncio.sleep(self._retry_delay)
        raise AssertionError(f"event never acknowledged: {envelope}")
