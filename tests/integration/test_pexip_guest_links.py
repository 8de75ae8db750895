"""External guests through guest links: the link carries no PIN, the guest types a name and joins
with the guest PIN, Infinity is told to show them as "(guest)", and a link stops working when it
expires or is revoked (at meetbridge's door and at Infinity's)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.integration.conftest import PARTICIPANT_PROPERTIES, alias, policy, tag
from tests.support.conferencing_node import API_PREFIX, ConferencingNode
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn


class ManualClock:
    def __init__(self) -> None:
        self.time = 1_790_000_000.0

    def now(self) -> float:
        return self.time


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def conferencing_node() -> AsyncIterator[ConferencingNode]:
    node = ConferencingNode()
    await node.start()
    yield node
    await node.stop()
    node.close()


@pytest.fixture
async def service(
    config: ServiceConfig,
    mattermost: MattermostStandIn,
    conferencing_node: ConferencingNode,
    clock: ManualClock,
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
        clock=clock,
        mattermost_transport=mattermost.transport(),
        auto_migrate=True,
        background=False,
        pexip_transport=httpx2.AsyncHTTPTransport(verify=conferencing_node.ssl_context()),
    )
    async with running(app) as running_app:
        await running_app.components.admin.change_setting(
            "pexip_node", conferencing_node.address, "test"
        )
        await running_app.components.state.refresh()
        yield running_app


@pytest.fixture
async def channel(mattermost: MattermostStandIn) -> str:
    return mattermost.add_channel("Customer call", kind="O")


async def new_link(service: RunningApp, channel: str, hours: int = 2) -> str:
    url = await service.components.guest_links.create(ChannelId(channel), UserId("a" * 26), hours)
    return str(url).removeprefix("https://meetbridge.example.com")


def page_config(page: str) -> dict[str, Any]:
    found = re.search(r'id="meetbridge-config">(.*?)</script>', page, re.S)
    assert found, page[:500]
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return config


async def test_a_guest_types_a_name_and_joins_with_the_guest_pin(
    service: RunningApp, channel: str, conferencing_node: ConferencingNode
) -> None:
    path = await new_link(service, channel)
    pins = await service.components.state.pins_for(ChannelId(channel))
    assert pins.guest_pin not in path and pins.host_pin not in path

    form = await service.http.get(path)
    assert form.status_code == 200
    assert "Customer call" in form.text and 'name="name"' in form.text
    assert pins.guest_pin not in form.text and pins.host_pin not in form.text

    joined = await service.http.post(path, data={"name": "  Eve <b>Ops</b> "})
    assert joined.status_code == 200, joined.text
    assert joined.headers["cache-control"] == "no-store"
    config = page_config(joined.text)
    assert config["pin"] == pins.guest_pin and config["displayName"] == "Eve <b>Ops</b>"
    assert config["role"] == "participant" and "controls" not in config
    assert config["callTag"].startswith("mbg.")
    assert "<b>Ops</b>" not in joined.text  # the name is escaped where it is rendered

    # Infinity makes the guest PIN a guest.
    conferencing_node.host_pin, conferencing_node.guest_pin = pins.host_pin, pins.guest_pin
    async with httpx2.AsyncClient(verify=conferencing_node.ssl_context()) as http:
        answer = await http.post(
            f"{conferencing_node.url}{API_PREFIX}{alias(channel)}/request_token",
            json={"display_name": config["displayName"], "call_tag": config["callTag"]},
            headers={"pin": config["pin"]},
        )
    assert answer.json()["result"]["role"] == "GUEST"


async def test_infinity_is_told_to_show_a_link_guest_as_a_guest(
    service: RunningApp, channel: str, node: InfinityNode
) -> None:
    path = await new_link(service, channel)
    config = page_config((await service.http.post(path, data={"name": "Eve"})).text)
    query = node.participant_properties(
        alias(channel), tag(channel), call_tag=config["callTag"], remote_display_name="Eve"
    )
    answer = await policy(service, query, PARTICIPANT_PROPERTIES)
    guest = {"remote_display_name": "Eve (guest)", "preauthenticated_role": "guest"}
    assert answer.json()["result"] == guest

    # A name typed into Infinity's own prompt is cleaned and marked too.
    query["remote_display_name"] = "Mallory\u202e (guest)"
    answer = await policy(service, query, PARTICIPANT_PROPERTIES)
    assert answer.json()["result"] == {**guest, "remote_display_name": "Mallory (guest)"}


async def test_a_guest_must_type_a_name(service: RunningApp, channel: str) -> None:
    path = await new_link(service, channel)
    for data in ({"name": "   "}, {"name": "\x00\x01"}, {}):
        refused = await service.http.post(path, data=data)
        assert refused.status_code == 400
        assert "Type the name the others will see." in refused.text
        assert 'aria-invalid="true"' in refused.text
    oversized = await service.http.post(path, content=b"name=" + b"x" * 10_000)
    assert oversized.status_code == 400


async def test_an_expired_link_no_longer_opens_and_infinity_refuses_its_guest(
    service: RunningApp, channel: str, clock: ManualClock, node: InfinityNode
) -> None:
    path = await new_link(service, channel, hours=1)
    config = page_config((await service.http.post(path, data={"name": "Eve"})).text)
    clock.time += 3600 + 1
    for answer in (await service.http.get(path), await service.http.post(path, data={"name": "E"})):
        assert answer.status_code in (404, 410)
        assert "expired" in answer.text
        assert "meetbridge-config" not in answer.text
    query = node.participant_properties(
        alias(channel), tag(channel), call_tag=config["callTag"], remote_display_name="Eve"
    )
    rejected = (await policy(service, query, PARTICIPANT_PROPERTIES)).json()
    assert rejected["action"] == "reject"


async def test_a_revoked_link_stops_at_once(
    service: RunningApp, channel: str, node: InfinityNode
) -> None:
    path = await new_link(service, channel)
    config = page_config((await service.http.post(path, data={"name": "Eve"})).text)
    [link] = await service.components.guest_links.active()
    assert (await service.components.guest_links.revoke(link.id, "admin:test")).revoked
    assert not (await service.components.guest_links.revoke(link.id, "admin:test")).revoked
    assert await service.components.guest_links.active() == []
    gone = await service.http.get(path)
    assert gone.status_code == 410 and "revoked" in gone.text
    query = node.participant_properties(
        alias(channel), tag(channel), call_tag=config["callTag"], remote_display_name="Eve"
    )
    assert (await policy(service, query, PARTICIPANT_PROPERTIES)).json()["action"] == "reject"


async def test_links_that_are_not_ours_or_lead_nowhere_are_refused(
    service: RunningApp, channel: str
) -> None:
    for path in ("/guest/nonsense", "/guest/" + "a" * 300, "/guest/%C3%A9"):
        refused = await service.http.get(path)
        assert refused.status_code == 404, path
    # A link of a channel whose meetings moved to another engine leads nowhere.
    path = await new_link(service, channel)
    await service.components.engines.set_engine(ChannelId(channel), "livekit", "test")
    moved = await service.http.get(path)
    assert moved.status_code == 404 and "not available" in moved.text
