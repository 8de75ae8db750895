"""The policy server answering from a real Mattermost server's channels and users."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.infinity import InfinityNode

pytestmark = pytest.mark.mattermost

SERVICE = "/api/pexip/policy/v1/service/configuration"
PARTICIPANT = "/api/pexip/policy/v1/participant/properties"


@pytest.fixture
async def service(mattermost: MattermostWorld, tmp_path: Path) -> AsyncIterator[RunningApp]:
    config = ServiceConfig(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'meetbridge.db'}",
        secret_key=base64.b64encode(generate_master_key()).decode(),
        mattermost_url=mattermost.url,
        mattermost_token=mattermost.bot.token,
    )
    async with running(create_app(config)) as running_app:
        yield running_app


async def answer(service: RunningApp, channel_id: str) -> tuple[int, dict[str, object]]:
    query = InfinityNode("10.0.0.1").service_configuration(f"matt-{channel_id}")
    response = await service.http.get(SERVICE, params=query, headers=service.auth)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("name", "description"),
    [("public", "Engineering"), ("private", "Leadership"), ("dm", "Direct message"), ("gm", None)],
)
async def test_channels_of_every_kind_get_a_conference(
    service: RunningApp, mattermost: MattermostWorld, name: str, description: str | None
) -> None:
    status, body = await answer(service, mattermost.channels[name])
    assert status == 200
    result = body["result"]
    assert isinstance(result, dict) and result["service_type"] == "conference"
    if description is not None:
        assert result["description"] == description


async def test_archived_disallowed_and_unknown_channels_are_rejected(
    service: RunningApp, mattermost: MattermostWorld
) -> None:
    await service.components.admin.set_channel_allowed(
        ChannelId(mattermost.channels["disallowed"]), False, "test"
    )
    await service.components.state.refresh()
    for channel_id in (
        mattermost.channels["archived"],
        mattermost.channels["disallowed"],
        "q" * 26,
    ):
        assert await answer(service, channel_id) == (
            200,
            {"status": "success", "action": "reject", "result": {}},
        )


@pytest.mark.parametrize(
    ("style", "who", "expected"),
    [
        ("full_name", "alice", "Alice Archer"),
        ("nickname", "bob", "Bobby"),
        ("nickname", "dave", "dave"),
        ("full_name", "erin", "Erin"),
        ("username", "carol", "carol"),
    ],
)
async def test_display_names_come_from_mattermost(
    service: RunningApp, mattermost: MattermostWorld, style: str, who: str, expected: str
) -> None:
    await service.components.admin.change_setting("display_name", style, "test")
    await service.components.state.refresh()
    channel = mattermost.channels["public"]
    tag = make_call_tag(
        service.components.core.call_tags, ChannelId(channel), UserId(mattermost.users[who].id)
    )
    query = InfinityNode("10.0.0.1").participant_properties(
        f"matt-{channel}", f"mattermost:{channel}", call_tag=tag
    )
    response = await service.http.get(PARTICIPANT, params=query, headers=service.auth)
    assert response.json()["result"]["remote_display_name"] == expected
