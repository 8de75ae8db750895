from __future__ import annotations

import pytest

from meetbridge.domain.aliases import (
    alias_for_channel,
    channel_from_alias,
    channel_of_conference,
    normalise_alias,
    service_tag_for_channel,
)
from meetbridge.domain.ids import ChannelId

CHANNEL = ChannelId("k3f9q1x7ab8cd2ef4gh6ij8kl0")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("matt-k3f9q1x7ab8cd2ef4gh6ij8kl0", "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0"),
        (
            "sip:matt-k3f9q1x7ab8cd2ef4gh6ij8kl0@pexip.example.com",
            "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0",
        ),
        ("SIPS:MATT-K3F9Q1X7AB8CD2EF4GH6IJ8KL0", "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0"),
        ("h323:matt-k3f9q1x7ab8cd2ef4gh6ij8kl0@10.0.0.1", "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0"),
        ("  matt-k3f9q1x7ab8cd2ef4gh6ij8kl0  ", "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0"),
    ],
)
def test_normalise_alias_strips_scheme_domain_and_case(raw: str, expected: str) -> None:
    assert normalise_alias(raw) == expected


def test_alias_round_trip() -> None:
    alias = alias_for_channel("matt-", CHANNEL)
    assert alias == "matt-k3f9q1x7ab8cd2ef4gh6ij8kl0"
    assert channel_from_alias(alias, "matt-") == CHANNEL
    assert channel_from_alias(f"sip:{alias.upper()}@example.com", "matt-") == CHANNEL


@pytest.mark.parametrize(
    "alias",
    [
        "meet-k3f9q1x7ab8cd2ef4gh6ij8kl0",  # another prefix
        "matt-town-square",  # the plugin's old name form is not a channel id
        "matt-k3f9q1x7ab8cd2ef4gh6ij8kl",  # 25 characters
        "matt-k3f9q1x7ab8cd2ef4gh6ij8kl00",  # 27 characters
        "matt-",
        "",
        "1234",
    ],
)
def test_aliases_that_are_not_ours(alias: str) -> None:
    assert channel_from_alias(alias, "matt-") is None


def test_conference_channel_prefers_service_tag() -> None:
    tag = service_tag_for_channel(CHANNEL)
    assert channel_of_conference("anything", tag, "matt-") == CHANNEL
    assert channel_of_conference(f"matt-{CHANNEL}", "", "matt-") == CHANNEL
    assert channel_of_conference("boardroom", "finance", "matt-") is None
