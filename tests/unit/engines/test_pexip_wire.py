"""Pexip wire formats: event translation, Webapp3 links, policy answer shapes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from meetbridge.domain.channels import ChannelInfo, ChannelKind
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import (
    ConferenceEnded,
    ConferenceStarted,
    LegConnected,
    LegDisconnected,
    LegUpdated,
)
from meetbridge.domain.pins import ChannelPins
from meetbridge.domain.settings import RuntimeSettings
from meetbridge.engines.pexip import policy
from meetbridge.engines.pexip.events import envelope_from_dict, to_report
from meetbridge.engines.pexip.webapp3 import webapp3_url
from tests.support.infinity import InfinityNode

CH = ChannelId("k3f9q1x7ab8cd2ef4gh6ij8kl0")
CONF, TAG = f"matt-{CH}", f"mattermost:{CH}"


def channel_of(name: str, tag: str) -> ChannelId | None:
    return CH if tag == TAG or name == CONF else None


def user_of(tag: str, name: str, channel: ChannelId) -> UserId | None:
    return UserId("u" * 26) if tag == "good" else None


def report(envelope: dict[str, object]):  # type: ignore[no-untyped-def]
    return to_report(envelope_from_dict(envelope), channel_of, user_of)


def test_events_become_domain_reports() -> None:
    node = InfinityNode("10.0.0.1")
    started = report(node.conference_started(CONF, TAG))
    assert (
        isinstance(started, ConferenceStarted)
        and started.channel_id == CH
        and started.node == "10.0.0.1"
    )
    joined = report(
        node.participant_connected(CONF, TAG, uuid="p", call_tag="good", display_name="Dana")
    )
    assert isinstance(joined, LegConnected)
    assert (
        joined.leg.user_id == "u" * 26
        and joined.leg.display_name == "Dana"
        and joined.leg.has_media
    )
    updated = report(node.participant_updated(CONF, TAG, "p", is_muted=True))
    assert isinstance(updated, LegUpdated) and updated.leg.is_muted is True
    assert isinstance(report(node.participant_disconnected(CONF, TAG, "p")), LegDisconnected)
    assert isinstance(report(node.conference_ended(CONF, TAG)), ConferenceEnded)


def test_events_about_other_conferences_or_without_keys_are_not_reports() -> None:
    node = InfinityNode("10.0.0.1")
    assert report(node.conference_started("boardroom", "finance")) is None
    assert (
        report(node.envelope("participant_connected", {"conference": CONF, "service_tag": TAG}))
        is None
    )
    assert report(node.media_stream_window("p")) is None
    assert report(node.sink_started()) is None


def test_participant_fields_of_the_wrong_type_are_ignored() -> None:
    node = InfinityNode("10.0.0.1")
    envelope = node.participant_connected(CONF, TAG, uuid="p")
    envelope["data"].update(display_name=42, has_media="True", role=None)
    joined = report(envelope)
    assert isinstance(joined, LegConnected)
    assert (
        joined.leg.display_name is None and joined.leg.has_media is True and joined.leg.role is None
    )


def test_webapp3_link_encodes_every_value() -> None:
    url = webapp3_url("pexip.example.com", "webapp3", CONF, "Dana Reyes & co", "602914")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "pexip.example.com",
        f"/webapp3/m/{CONF}/express",
    )
    assert parse_qs(parts.query) == {"name": ["Dana Reyes & co"], "pin": ["602914"]}


def test_conference_answer_for_a_group_message_has_no_direct_media() -> None:
    group = ChannelInfo(CH, ChannelKind.GROUP, "abc", "", "", archived=False)
    settings = RuntimeSettings(direct_media_dms=True, crypto_mode="")
    answer = policy.conference(group, ChannelPins("11112222", "33334444"), settings)
    result = answer.body["result"]
    assert result["direct_media"] == "never"
    assert result["description"] == "Group message"
    assert result["crypto_mode"] is None
