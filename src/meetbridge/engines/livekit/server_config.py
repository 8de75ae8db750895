"""Configuration for a livekit-server that meetbridge starts itself (dev, tests, single box).

The result goes to the server in the ``LIVEKIT_CONFIG`` environment variable (the variable
behind ``--config-body``) rather than on the command line, where other local users could read
the API secret with ``ps``. It is JSON, which LiveKit's YAML parser reads as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

CONFIG_ENV = "LIVEKIT_CONFIG"


@dataclass(frozen=True, slots=True)
class LocalServerConfig:
    """One node on this machine; ``redis_address`` makes it part of a multi-node cluster."""

    api_key: str
    api_secret: str = field(repr=False)
    http_port: int = 7880  # signalling WebSocket, Twirp API and the "/" health check
    rtc_tcp_port: int = 7881  # ICE over TCP, for clients whose UDP is blocked
    rtc_udp_port: int = 7882  # one UDP port muxes every peer connection, as in --dev
    bind_address: str = "127.0.0.1"
    node_ip: str = "127.0.0.1"  # the address put in ICE candidates; never STUN-discovered here
    webhook_urls: tuple[str, ...] = ()
    redis_address: str | None = None
    room: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"auto_create": False}
    log_level: str = "info"

    def as_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "port": self.http_port,
            "bind_addresses": [self.bind_address],
            "rtc": {
                "tcp_port": self.rtc_tcp_port,
                "udp_port": self.rtc_udp_port,
                "node_ip": self.node_ip,
                "use_external_ip": False,
            },
            "keys": {self.api_key: self.api_secret},
            "logging": {"level": self.log_level, "json": True},
        }
        if self.room:
            config["room"] = dict(self.room)
        if self.webhook_urls:
            # The webhook key signs the deliveries; it must be one of `keys`.
            config["webhook"] = {"api_key": self.api_key, "urls": list(self.webhook_urls)}
        if self.redis_address:
            config["redis"] = {"address": self.redis_address}
        return config

    def body(self) -> str:
        return orjson.dumps(self.as_dict()).decode()

    def environment(self) -> dict[str, str]:
        """What to add to the server's environment (the secret is in it: don't log it)."""
        return {CONFIG_ENV: self.body()}
