"""``GET /`` (issue 20, item 9): anyone may ask whether meetbridge runs, but which engines are set
up, whether they answer and what is left to configure is for signed-in admins only, and no
anonymous request makes meetbridge call LiveKit (the probe is cached for admins too)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

import meetbridge.web.app as app_module
from meetbridge.config import ServiceConfig
from meetbridge.doctor.results import CheckResult, fail, ok
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running, running_on_livekit
from tests.support.livekit import LiveKitServer
from tests.support.mattermost_standin import MattermostStandIn

STATUS_CHECK = "meetbridge-status-check"


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every ListRooms meetbridge sends to LiveKit to see whether it answers."""
    seen: list[list[str]] = []
    original = RoomService.list_rooms

    async def counted(self: RoomService, names: Sequence[str] = ()) -> object:
        if STATUS_CHECK in names:
            seen.append(list(names))
        return await original(self, names)

    monkeypatch.setattr(RoomService, "list_rooms", counted)
    return seen


async def admin_cookie(service: RunningApp, mattermost: MattermostStandIn) -> str:
    return (await service.admin_cookie(mattermost))["Cookie"]


async def test_an_anonymous_visitor_learns_only_that_it_runs_and_costs_no_livekit_call(
    service: RunningApp, probes: list[list[str]], livekit_server: LiveKitServer
) -> None:
    for _ in range(5):
        page = await service.http.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "meetbridge is running" in page.text
        for detail in ("LiveKit", "Pexip", "Zoom", "Reachable", "livekit_url", "pexip_node"):
            assert detail not in page.text, detail
        assert livekit_server.api_key.key not in page.text
    assert probes == []


async def test_a_signed_in_admin_sees_each_engine_and_livekit_is_asked_once_in_a_while(
    service: RunningApp,
    mattermost: MattermostStandIn,
    probes: list[list[str]],
    livekit_server: LiveKitServer,
) -> None:
    cookie = await admin_cookie(service, mattermost)
    for _ in range(3):
        page = await service.http.get("/", headers={"Cookie": cookie})
        assert page.status_code == 200
        assert "LiveKit (default)" in page.text
        row = page.text.split("LiveKit (default)", 1)[1].split("</tr>", 1)[0]
        assert row.replace(" ", "").replace("\n", "").count("<td>yes</td>") == 2  # set, answers
        assert "Pexip Infinity: set pexip_node" in page.text
        assert livekit_server.api_key.secret not in page.text
        assert livekit_server.api_key.key not in page.text
    assert len(probes) == 1  # cached: three pages, one question to LiveKit


async def test_a_forged_or_stale_admin_cookie_gets_the_anonymous_page(
    service: RunningApp, mattermost: MattermostStandIn, probes: list[list[str]]
) -> None:
    cookie = await admin_cookie(service, mattermost)
    for forged in ("meetbridge_admin=forged", cookie + "x", "meetbridge_admin="):
        page = await service.http.get("/", headers={"Cookie": forged})
        assert page.status_code == 200 and "LiveKit" not in page.text
    assert probes == []


async def test_an_admin_sees_what_is_left_on_a_bare_install(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> None:
    app = create_app(config, mattermost_transport=mattermost.transport(), auto_migrate=True)
    async with running(app, default_engine=None) as bare:
        page = await bare.http.get("/", headers={"Cookie": await admin_cookie(bare, mattermost)})
    assert page.status_code == 200
    assert "LiveKit: set livekit_url, livekit_api_key, livekit_api_secret" in page.text


async def test_an_admin_sees_what_the_doctor_found_and_anonymous_visits_never_run_it(
    config: ServiceConfig, mattermost: MattermostStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The doctor's checks (meetbridge doctor) run in the background when an admin looks; the
    page shows their lines, escaped. Its checks themselves are proven in the deployment tests."""
    runs: list[ServiceConfig] = []

    async def diagnose(seen: ServiceConfig) -> list[CheckResult]:
        runs.append(seen)
        return [
            ok("database", "sqlite, migrations current"),
            fail("TURN", "no answer on <udp> 3478", "open UDP 3478 & retry"),
        ]

    monkeypatch.setattr(app_module, "diagnose", diagnose)
    app = create_app(config, mattermost_transport=mattermost.transport(), auto_migrate=True)
    async with running(app) as service:
        for _ in range(3):
            assert "Checks" not in (await service.http.get("/")).text
        assert runs == []
        cookie = {"Cookie": await admin_cookie(service, mattermost)}
        first = await service.http.get("/", headers=cookie)
        assert "meetbridge doctor" in first.text
        page = first
        for _ in range(100):
            if "sqlite, migrations current" in page.text:
                break
            await asyncio.sleep(0.05)
            page = await service.http.get("/", headers=cookie)
        assert "sqlite, migrations current" in page.text
        assert "no answer on &lt;udp&gt; 3478" in page.text and "<udp>" not in page.text
        assert "open UDP 3478 &amp; retry" in page.text
        await service.http.get("/", headers=cookie)
    assert len(runs) == 1  # fresh results are reused for five minutes
