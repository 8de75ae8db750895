"""livekit-server's configuration for a production node, made by meetbridge from its own.

What a LiveKit beside meetbridge needs, and what meetbridge's setup relies on: the API key pair
meetbridge uses (one key, so webhooks are signed with the secret meetbridge verifies), webhooks
to ``{public_url}/api/livekit/webhook``, ``room.auto_create: false`` (only meetbridge creates
rooms), the RTC port range and ICE/TCP port, and LiveKit's embedded TURN server on two doors:

* TURN/UDP on ``turn_udp_port`` (3478), for clients whose UDP to the port range is blocked;
* TURN/TLS through the TLS proxy on 443: LiveKit tells clients ``turns:<turn domain>:443``
  (a fixed 443 in livekit-server v1.13.5, pkg/service/roommanager.go), the proxy terminates TLS
  for the TURN domain and passes the stream to ``turn_tls_port`` (``external_tls: true``), so
  a client whose only way out is TCP to 443 still gets media.

LiveKit's TURN relay refuses to send to loopback and private addresses unless they are listed
(``turn.allow_restricted_peer_cidrs``): when the node's own address is one of those (a LAN
install, or loopback in tests), exactly that address is listed, so the relay reaches this
node's own media ports and nothing else of the private network.

The result is YAML (a comment, then JSON, which YAML reads): ``livekit-server --config FILE``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import orjson
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MIN_SECRET = 32  # livekit-server refuses shorter API secrets outside dev mode


class LiveKitDeployment(BaseSettings):
    """Where the LiveKit node listens and how clients reach it (``MEETBRIDGE_LIVEKIT_*``,
    ``MEETBRIDGE_TURN_*``); the doctor reads the same to check the TURN ports."""

    model_config = SettingsConfigDict(env_prefix="MEETBRIDGE_", extra="ignore", frozen=True)

    livekit_http_port: int = Field(7880, ge=1, le=65535)
    livekit_bind_address: str = "127.0.0.1"  # behind the TLS proxy
    livekit_node_ip: str = Field("", description="the address put in ICE candidates; empty: STUN")
    livekit_rtc_tcp_port: int = Field(7881, ge=1, le=65535)
    livekit_rtc_ports: str = Field("50000-60000", pattern=r"^\d{1,5}-\d{1,5}$")
    livekit_redis_address: str = ""
    turn_domain: str = ""
    turn_udp_port: int = Field(3478, ge=0, le=65535)
    turn_tls_port: int = Field(5349, ge=0, le=65535, description="plain TCP behind the proxy")
    turn_public_tls_port: int = Field(443, ge=1, le=65535)

    @field_validator("turn_domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a DNS name (LiveKit needs one for TURN/TLS)")
        return value

    @field_validator("livekit_node_ip")
    @classmethod
    def _check_node_ip(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)  # ValueError names the bad value
        return value

    @property
    def rtc_port_range(self) -> tuple[int, int]:
        start, end = (int(part) for part in self.livekit_rtc_ports.split("-"))
        if not 1024 <= start < end <= 65535:
            raise ValueError(f"RTC port range {self.livekit_rtc_ports}: need 1024 <= start < end")
        return start, end


def production_config(
    deployment: LiveKitDeployment, api_key: str, api_secret: str, webhook_url: str
) -> dict[str, Any]:
    if not api_key or len(api_secret) < MIN_SECRET:
        raise ValueError(
            "set MEETBRIDGE_LIVEKIT_API_KEY and MEETBRIDGE_LIVEKIT_API_SECRET (or _FILE), "
            f"the secret at least {MIN_SECRET} characters"
        )
    if not webhook_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError(f"webhook URL {webhook_url!r}: LiveKit must reach meetbridge over https")
    start, end = deployment.rtc_port_range
    rtc: dict[str, Any] = {
        "tcp_port": deployment.livekit_rtc_tcp_port,
        "port_range_start": start,
        "port_range_end": end,
    }
    if deployment.livekit_node_ip:
        rtc.update(node_ip=deployment.livekit_node_ip, use_external_ip=False)
    else:
        rtc["use_external_ip"] = True
    config: dict[str, Any] = {
        "port": deployment.livekit_http_port,
        "bind_addresses": [deployment.livekit_bind_address],
        "rtc": rtc,
        "keys": {api_key: api_secret},
        "webhook": {"api_key": api_key, "urls": [webhook_url]},
        "room": {"auto_create": False},
        "logging": {"level": "info", "json": True},
        "turn": _turn(deployment),
    }
    if deployment.livekit_redis_address:
        config["redis"] = {"address": deployment.livekit_redis_address}
    return config


def _turn(deployment: LiveKitDeployment) -> dict[str, Any]:
    if not deployment.turn_domain:
        raise ValueError("set MEETBRIDGE_TURN_DOMAIN: the name clients reach TURN/TLS by")
    turn: dict[str, Any] = {
        "enabled": True,
        "domain": deployment.turn_domain,
        "tls_port": deployment.turn_tls_port,
        "external_tls": True,
        "udp_port": deployment.turn_udp_port,
    }
    node_ip = deployment.livekit_node_ip
    if node_ip and restricted_by_livekit(node_ip):
        prefix = 32 if ipaddress.ip_address(node_ip).version == 4 else 128
        turn["allow_restricted_peer_cidrs"] = [f"{node_ip}/{prefix}"]
    return turn


_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_PRIVATE6 = ipaddress.ip_network("fc00::/7")


def restricted_by_livekit(address: str) -> bool:
    """Whether LiveKit's TURN relay refuses this peer unless listed: Go's IsLoopback,
    IsLinkLocal*, IsMulticast, IsPrivate (RFC 1918, fc00::/7) or IsUnspecified (pkg/service/
    turn.go), which is narrower than Python's ``is_private``."""
    ip = ipaddress.ip_address(address)
    private = any(ip in net for net in _PRIVATE) if ip.version == 4 else ip in _PRIVATE6
    return ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or private


def render(config: dict[str, Any]) -> str:
    header = (
        "# livekit-server configuration made by `meetbridge livekit config`; it holds the API\n"
        "# secret: keep it readable by livekit-server only. Make it anew rather than edit it.\n"
    )
    return header + orjson.dumps(config, option=orjson.OPT_INDENT_2).decode() + "\n"
