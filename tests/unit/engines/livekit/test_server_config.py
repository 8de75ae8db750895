"""The configuration meetbridge gives a livekit-server it starts itself."""

from __future__ import annotations

import orjson

from meetbridge.engines.livekit.server_config import CONFIG_ENV, LocalServerConfig

SECRET = "s3cr3t-" * 6


def test_a_single_node_listens_on_loopback_with_one_udp_port_and_its_key() -> None:
    config = LocalServerConfig(api_key="APIk", api_secret=SECRET, http_port=17880)
    assert config.as_dict() == {
        "port": 17880,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": 7881,
            "udp_port": 7882,
            "node_ip": "127.0.0.1",
            "use_external_ip": False,
        },
        "keys": {"APIk": SECRET},
        "logging": {"level": "info", "json": True},
    }


def test_webhooks_are_signed_with_the_configured_key_and_redis_makes_a_cluster() -> None:
    config = LocalServerConfig(
        api_key="APIk",
        api_secret=SECRET,
        webhook_urls=("http://127.0.0.1:8787/livekit/webhook",),
        redis_address="127.0.0.1:6379",
        room={"auto_create": False, "max_participants": 50},
    ).as_dict()
    assert config["webhook"] == {
        "api_key": "APIk",
        "urls": ["http://127.0.0.1:8787/livekit/webhook"],
    }
    assert config["redis"] == {"address": "127.0.0.1:6379"}
    assert config["room"] == {"auto_create": False, "max_participants": 50}


def test_the_config_travels_in_the_environment_not_on_the_command_line() -> None:
    config = LocalServerConfig(api_key="APIk", api_secret=SECRET)
    environment = config.environment()
    assert list(environment) == [CONFIG_ENV] == ["LIVEKIT_CONFIG"]
    assert orjson.loads(environment[CONFIG_ENV]) == config.as_dict()


def test_the_secret_stays_out_of_repr() -> None:
    assert SECRET not in repr(LocalServerConfig(api_key="APIk", api_secret=SECRET))
