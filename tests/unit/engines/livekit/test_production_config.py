"""The LiveKit node's configuration that meetbridge writes (``meetbridge livekit config``)."""

from __future__ import annotations

import orjson
import pytest

from meetbridge.engines.livekit.production_config import (
    LiveKitDeployment,
    production_config,
    render,
)

SECRET = "s" * 40


def _deployment(**values: object) -> LiveKitDeployment:
    return LiveKitDeployment(**{"turn_domain": "turn.example.com", **values})  # type: ignore[arg-type]


def test_everything_meetbridge_relies_on_is_set() -> None:
    config = production_config(
        _deployment(livekit_rtc_ports="40000-40100", livekit_redis_address="10.1.2.3:6379"),
        "APIkey",
        SECRET,
        "https://meet.example.com/api/livekit/webhook",
    )
    assert config["keys"] == {"APIkey": SECRET}
    assert config["webhook"] == {
        "api_key": "APIkey",
        "urls": ["https://meet.example.com/api/livekit/webhook"],
    }
    assert config["room"] == {"auto_create": False}
    assert config["rtc"] == {
        "tcp_port": 7881,
        "port_range_start": 40000,
        "port_range_end": 40100,
        "use_external_ip": True,  # no node address given: LiveKit finds its public one
    }
    assert config["turn"] == {
        "enabled": True,
        "domain": "turn.example.com",
        "tls_port": 5349,
        "external_tls": True,
        "udp_port": 3478,
    }
    assert config["redis"] == {"address": "10.1.2.3:6379"}
    assert config["bind_addresses"] == ["127.0.0.1"]


def test_a_private_node_address_is_the_one_restricted_peer_the_relay_may_reach() -> None:
    lan = production_config(
        _deployment(livekit_node_ip="10.20.0.5"),
        "K",
        SECRET,
        "https://meet.lan/api/livekit/webhook",
    )
    assert lan["rtc"]["node_ip"] == "10.20.0.5" and lan["rtc"]["use_external_ip"] is False
    assert lan["turn"]["allow_restricted_peer_cidrs"] == ["10.20.0.5/32"]
    public = production_config(
        _deployment(livekit_node_ip="198.51.100.7"),
        "K",
        SECRET,
        "https://m.example/api/livekit/webhook",
    )
    assert "allow_restricted_peer_cidrs" not in public["turn"]


@pytest.mark.parametrize(
    ("values", "key", "secret", "webhook", "message"),
    [
        ({}, "K", "short", "https://m.example/w", "at least 32"),
        ({}, "", SECRET, "https://m.example/w", "MEETBRIDGE_LIVEKIT_API_KEY"),
        ({}, "K", SECRET, "http://meet.example.com/w", "over https"),
        ({"turn_domain": ""}, "K", SECRET, "https://m.example/w", "MEETBRIDGE_TURN_DOMAIN"),
        ({"livekit_rtc_ports": "60000-50000"}, "K", SECRET, "https://m.example/w", "start < end"),
    ],
)
def test_what_livekit_would_refuse_or_that_would_break_media_is_refused_here(
    values: dict[str, object], key: str, secret: str, webhook: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        production_config(_deployment(**values), key, secret, webhook)


@pytest.mark.parametrize("domain", ["turn example.com", "-turn.example.com", "turn", "a" * 300])
def test_a_turn_domain_that_is_not_a_dns_name_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match="not a DNS name"):
        _deployment(turn_domain=domain)


def test_the_file_is_yaml_that_names_its_maker_and_holds_the_config() -> None:
    config = production_config(_deployment(), "K", SECRET, "https://m.example/w")
    text = render(config)
    assert text.startswith("# livekit-server configuration made by `meetbridge livekit config`")
    # YAML comments, then a JSON document (JSON is YAML; livekit-server reads it).
    body = "".join(line for line in text.splitlines(True) if not line.startswith("#"))
    assert orjson.loads(body) == config
