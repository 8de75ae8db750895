"""A channel's Pexip meeting as Infinity runs it, for integration tests.

The simulated Conferencing Node (tests/support/conferencing_node.py) asks meetbridge's policy
server, as a node of a location with meetbridge's policy profile does: the service configuration
(its PINs), then the participant's properties (role, name, tag). Each member joins as their page
does: meetbridge's join gives the page its alias, PIN, call tag and control token; the page asks
the node for a token and sets up its call; the node's event sink then reports the participant
to meetbridge as the node made it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.integration.conftest import alias, post_events, tag
from tests.support.conferencing_node import API_PREFIX, ConferencingNode
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn

POLICY = "/api/pexip/policy/v1/"


def connect_policy(node: ConferencingNode, service: RunningApp) -> None:
    """Point the node's location at meetbridge's policy server (with its credentials)."""

    async def ask(path: str, query: dict[str, str]) -> tuple[int, Any]:
        answer = await service.http.get(POLICY + path, params=query, headers=service.auth)
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, None

    node.policy = ask


@dataclass
class Member:
    """One page in the meeting: what meetbridge gave it and what the node gave it."""

    user: str
    config: dict[str, Any]
    uuid: str = ""
    token: str = ""

    @property
    def controls(self) -> str:
        return str(self.config["controls"]["token"])


def webapp3_parts(url: str) -> tuple[str, str, str]:
    """(alias, name, PIN) of a Webapp3 express link ``https://node/<path>/m/<alias>/express``."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    dialled = unquote(parts.path.split("/m/", 1)[1].removesuffix("/express"))
    return dialled, query.get("name", [""])[0], query.get("pin", [""])[0]


class PexipMeeting:
    def __init__(
        self, service: RunningApp, node: ConferencingNode, channel: str, sink: InfinityNode
    ) -> None:
        self.service, self.node, self.channel, self.sink = service, node, channel, sink

    async def page(self, user: str) -> dict[str, Any]:
        """What the member's page is given when they open their personal link now."""
        components = self.service.components
        link = await components.join.issue(ChannelId(self.channel), UserId(user))
        target = await components.join.open(link.rsplit("/", 1)[1])
        return dict(target.page_config)

    async def request_token(
        self, *, pin: str, display_name: str, call_tag: str = "", to: str = ""
    ) -> httpx2.Response:
        """What a client (the page, Webapp3, anyone's) asks the node for."""
        async with httpx2.AsyncClient(verify=self.node.ssl_context()) as http:
            return await http.post(
                f"{self.node.url}{API_PREFIX}{to or alias(self.channel)}/request_token",
                json={"display_name": display_name, "call_tag": call_tag},
                headers={"pin": pin},
            )

    async def join(
        self, user: str, config: dict[str, Any] | None = None, *, muted: bool = False, **over: str
    ) -> Member:
        """The member's page joins (with ``config``, one it was given earlier, if passed; a
        ``pin``, ``call_tag`` or alias ``to`` in ``over`` replaces the page's)."""
        member = Member(user, config if config is not None else await self.page(user))
        answer = await self.request_token(
            pin=over.get("pin", str(member.config["pin"])),
            display_name=str(member.config["displayName"]),
            call_tag=over.get("call_tag", str(member.config["callTag"])),
            to=over.get("to", ""),
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        member.uuid, member.token = result["participant_uuid"], result["token"]
        await self.call(member)
        await self.connected(member, muted=muted)
        return member

    async def call(self, member: Member) -> httpx2.Response:
        async with httpx2.AsyncClient(verify=self.node.ssl_context()) as http:
            return await http.post(
                f"{self.node.url}{API_PREFIX}{alias(self.channel)}/participants/"
                f"{member.uuid}/calls",
                json={"call_type": "WEBRTC", "sdp": ""},
                headers={"token": member.token},
            )

    async def connected(self, member: Member, *, muted: bool = False) -> None:
        """The node's sink reports the participant as the node made it."""
        made = self.node.participants[member.uuid]
        events = [
            self.sink.participant_connected(
                alias(self.channel),
                tag(self.channel),
                uuid=member.uuid,
                display_name=made.display_name,
                role=made.role,
                call_tag=made.call_tag,
            )
        ]
        if muted:
            events.append(
                self.sink.participant_updated(
                    alias(self.channel), tag(self.channel), member.uuid, is_muted=True
                )
            )
        await self.report(*events)

    def role(self, member: Member) -> str:
        return self.node.participants[member.uuid].role

    async def leave(self, member: Member) -> None:
        await self.report(
            self.sink.participant_disconnected(alias(self.channel), tag(self.channel), member.uuid)
        )

    async def report(self, *envelopes: dict[str, Any]) -> None:
        """The node's event sink reports; meetbridge applies them and acts on them."""
        await post_events(self.service, *envelopes)
        await self.service.components.applier.drain()
        await self.service.components.pexip_controls.settle()

    async def act(self, member: Member, action: str, **body: object) -> httpx2.Response:
        return await self.service.http.post(
            f"/api/meetings/controls/{action}",
            json=body,
            headers={"Authorization": f"Bearer {member.controls}"},
        )


# --- fixtures (test modules take them with ``name = pexip_meeting.name``) ---------------


@pytest.fixture
async def conferencing_node() -> AsyncIterator[ConferencingNode]:
    node = ConferencingNode()
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        node.close()


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, conferencing_node: ConferencingNode
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
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


async def meeting_in(
    service: RunningApp, node: ConferencingNode, channel: str, sink_ip: str = "10.20.0.11"
) -> PexipMeeting:
    """The channel's meeting on ``node``, whose policy server is meetbridge."""
    sink = InfinityNode(sink_ip)
    await post_events(service, sink.sink_started())
    connect_policy(node, service)
    return PexipMeeting(service, node, channel, sink)


@pytest.fixture
async def meeting(
    service: RunningApp, conferencing_node: ConferencingNode, mattermost: MattermostStandIn
) -> PexipMeeting:
    return await meeting_in(service, conferencing_node, mattermost.add_channel("Planning"))
