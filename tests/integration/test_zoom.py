"""Zoom as a meeting engine, against the Zoom simulator (and the Mattermost REST stand-in)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import orjson
import pytest
from sqlalchemy import func, select, update

from meetbridge.chat.mattermost.actions import VerifiedAction
from meetbridge.chat.mattermost.interactions import Invocation
from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.zoom import service as zoom_service
from meetbridge.engines.zoom import webhooks
from meetbridge.engines.zoom.service import Outcome, PmiPreference, ZoomService, regenerate_key
from meetbridge.store import zoom_repo
from meetbridge.store.tables import outbox, zoom_connections, zoom_meetings
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.zoom import ZoomSimulator, meeting_event, signed_webhook

SECRET_TOKEN = "zoom-webhook-secret-token"


@pytest.fixture
def zoom_sim() -> ZoomSimulator:
    simulator = ZoomSimulator(join_base="https://us02web.zoom.test")
    simulator.add_user("alice@example.com", pmi=5551234567)
    return simulator


@pytest.fixture
async def zoomed(
    config: ServiceConfig, mattermost: MattermostStandIn, zoom_sim: ZoomSimulator
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
        mattermost_transport=mattermost.transport(),
        zoom_transport=httpx2.ASGITransport(app=zoom_sim.app),
        auto_migrate=True,
        background=False,
    )
    async with running(app) as service:
        admin = service.components.admin
        for key, value in {
            "zoom_url": "https://zoom.test",
            "zoom_api_url": "https://zoom.test/v2",
            "zoom_client_id": "zoom-client",
        }.items():
            await admin.change_setting(key, value, "test")
        await admin.set_secret("zoom_client_secret", "zoom-secret", "test")
        await admin.set_secret("zoom_webhook_secret_token", SECRET_TOKEN, "test")
        await service.components.state.refresh()
        yield service


@pytest.fixture
async def second_replica(
    config: ServiceConfig,
    mattermost: MattermostStandIn,
    zoom_sim: ZoomSimulator,
    zoomed: RunningApp,
) -> AsyncIterator[RunningApp]:
    """Another meetbridge instance on the same database (several replicas in production)."""
    app = create_app(
        config,
        mattermost_transport=mattermost.transport(),
        zoom_transport=httpx2.ASGITransport(app=zoom_sim.app),
        auto_migrate=True,
        background=False,
    )
    async with running(app) as service:
        yield service


def zoom_of(service: RunningApp) -> ZoomService:
    zoom: ZoomService = service.components.zoom
    return zoom


async def connect(
    service: RunningApp,
    zoom_sim: ZoomSimulator,
    user: str,
    channel: str,
    start: bool = False,
    topic: str = "",
) -> object:
    """The OAuth round trip: our connect link, Zoom's authorize redirect, our callback."""
    zoom = zoom_of(service)
    state = parse_qs(
        urlsplit(zoom.connect_link(UserId(user), ChannelId(channel), topic, start)).query
    )["state"][0]
    authorize = zoom.api().authorize_url(zoom.callback_url, state)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=zoom_sim.app), base_url="https://zoom.test"
    ) as browser:
        redirect = await browser.get(authorize.removeprefix("https://zoom.test"))
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    return await zoom.complete_connection(zoom.read_state(state), code)


@pytest.fixture
def people(mattermost: MattermostStandIn) -> tuple[str, str]:
    return mattermost.add_user("alice"), mattermost.add_channel("Planning", kind="P")


async def test_start_asks_to_connect_then_starts(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    zoom = zoom_of(zoomed)
    first = await zoom.start(UserId(alice), ChannelId(channel), "Sprint", use_pmi=False)
    assert first.outcome is Outcome.CONNECT and "/zoom/oauth/start?state=" in first.url
    result = await connect(zoomed, zoom_sim, alice, channel, start=True, topic="Sprint")
    assert result.outcome is Outcome.STARTED  # type: ignore[attr-defined]
    assert zoom_sim.created == [
        {"host": "alice@example.com", "topic": "Sprint", "type": 1, "agenda": "", "settings": {}}
    ]
    async with zoomed.components.core.database.read() as conn:
        row = (await conn.execute(select(zoom_meetings))).one()
        cards = await conn.scalar(select(func.count()).where(outbox.c.kind == "zoom.card"))
    assert (
        row.topic == "Sprint"
        and row.channel_id == channel
        and row.join_url.startswith("https://us02web.zoom.test/j/")
    )
    assert cards == 1


async def test_personal_meeting_id_new_and_ask(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom = zoom_of(zoomed)
    asked = await zoom.start(UserId(alice), ChannelId(channel), "Retro")
    assert asked.outcome is Outcome.ASK_PMI and asked.topic == "Retro"
    personal = await zoom.start(UserId(alice), ChannelId(channel), "Retro", use_pmi=True)
    assert personal.outcome is Outcome.STARTED and "5551234567" in personal.url
    assert zoom_sim.created == []
    recent = await zoom.start(UserId(alice), ChannelId(channel), "Again", use_pmi=False)
    assert recent.outcome is Outcome.RECENT and recent.url == personal.url
    forced = await zoom.start(UserId(alice), ChannelId(channel), "Again", use_pmi=False, force=True)
    assert forced.outcome is Outcome.STARTED and len(zoom_sim.created) == 1
    await zoom.set_pmi_preference(UserId(alice), PmiPreference.NEW)
    preferred = await zoom.start(UserId(alice), ChannelId(channel), "Third", force=True)
    assert preferred.outcome is Outcome.STARTED and len(zoom_sim.created) == 2


async def test_tokens_are_refreshed_and_sealed(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()  # Zoom says 401 until meetbridge refreshes
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "", use_pmi=False)
    assert result.outcome is Outcome.STARTED
    assert "POST /oauth/token" in zoom_sim.requests[1:]
    async with zoomed.components.core.database.read() as conn:
        sealed = await conn.scalar(select(zoom_connections.c.tokens_sealed))
    assert sealed is not None
    assert not any(token.encode() in sealed for token in zoom_sim.access)
    assert not any(token.encode() in sealed for token in zoom_sim.refresh_tokens)


async def test_revoked_refresh_token_asks_to_connect_again(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()
    zoom_sim.refresh_tokens.clear()
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "", use_pmi=False)
    assert result.outcome is Outcome.CONNECT and "expired" in result.text


async def connection_of(service: RunningApp, owner: str) -> zoom_repo.ZoomConnection | None:
    box = await zoom_of(service).token_box()
    async with service.components.core.database.read() as conn:
        return await zoom_repo.connection(conn, box, owner)


async def test_concurrent_refreshes_on_two_replicas_refresh_once_and_keep_the_connection(
    zoomed: RunningApp,
    second_replica: RunningApp,
    zoom_sim: ZoomSimulator,
    people: tuple[str, str],
) -> None:
    """Zoom rotates refresh tokens: a second refresh with the old one fails, and must not make
    that replica delete the connection the first one has just refreshed."""
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()  # both replicas get 401 and want to refresh
    zoom_sim.token_delay = 0.3  # both refreshes are in flight together
    refreshes_before = zoom_sim.requests.count("POST /oauth/token")
    results = await asyncio.gather(
        *(
            zoom_of(replica).start(UserId(alice), ChannelId(channel), "", False, force=True)
            for replica in (zoomed, second_replica)
        )
    )
    assert [result.outcome for result in results] == [Outcome.STARTED, Outcome.STARTED]
    assert zoom_sim.requests.count("POST /oauth/token") - refreshes_before == 1
    survivor = await connection_of(zoomed, alice)
    assert survivor is not None and survivor.tokens.refresh_token in zoom_sim.refresh_tokens
    assert survivor.tokens.access_token in zoom_sim.access


async def set_refresh_claim(service: RunningApp, owner: str, until: float) -> None:
    """Another replica's claim to refresh, running until ``until``."""
    async with service.components.core.database.transaction() as conn:
        await conn.execute(
            update(zoom_connections)
            .where(zoom_connections.c.owner == owner)
            .values(refresh_claim="another-replica", refresh_claimed_until=until)
        )


async def test_a_refresh_zoom_cannot_answer_keeps_the_connection_and_frees_the_claim(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()
    zoom_sim.token_fail_next.append(503)
    zoom = zoom_of(zoomed)
    failed = await zoom.start(UserId(alice), ChannelId(channel), "", False, force=True)
    assert failed.outcome is Outcome.REFUSED and "cannot be reached" in failed.text
    assert await connection_of(zoomed, alice) is not None
    retried = await zoom.start(UserId(alice), ChannelId(channel), "", False, force=True)
    assert retried.outcome is Outcome.STARTED  # the claim was given back, not left to expire


async def test_a_claim_left_by_a_replica_that_died_is_taken_over_when_its_lease_ends(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()
    await set_refresh_claim(zoomed, alice, until=time.time() - 1)
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "", False, force=True)
    assert result.outcome is Outcome.STARTED


async def test_a_replica_waits_for_a_live_claim_no_longer_than_its_lease(
    zoomed: RunningApp,
    zoom_sim: ZoomSimulator,
    people: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.expire_all_tokens()
    monkeypatch.setattr(zoom_service, "REFRESH_LEASE", 0.3)
    await set_refresh_claim(zoomed, alice, until=time.time() + 3600)
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "", False, force=True)
    assert result.outcome is Outcome.REFUSED and "cannot be reached" in result.text
    assert await connection_of(zoomed, alice) is not None


@pytest.mark.parametrize(
    ("status", "headers", "fragment"),
    [
        (429, {"Retry-After": "30"}, "try again in 30 seconds"),
        (503, {}, "cannot be reached"),
        (404, {}, "refused"),
    ],
)
async def test_zoom_errors_are_explained(
    zoomed: RunningApp,
    zoom_sim: ZoomSimulator,
    people: tuple[str, str],
    status: int,
    headers: dict[str, str],
    fragment: str,
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom_sim.fail_next.append((status, headers))
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "", use_pmi=False)
    assert result.outcome is Outcome.REFUSED and fragment in result.text
    async with zoomed.components.core.database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(zoom_meetings)) == 0


async def test_account_level_app_matches_users_by_email(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, mattermost: MattermostStandIn
) -> None:
    await zoomed.components.admin.change_setting("zoom_account_level", True, "test")
    await zoomed.components.state.refresh()
    zoom_sim.add_user("admin@example.com")
    zoom_sim.login_as = "admin@example.com"
    admin = mattermost.add_user("admin", roles="system_user system_admin")
    alice, stranger = mattermost.add_user("alice"), mattermost.add_user("stranger")
    channel = mattermost.add_channel("Ops", kind="P")
    await connect(zoomed, zoom_sim, admin, channel)
    zoom = zoom_of(zoomed)
    started = await zoom.start(UserId(alice), ChannelId(channel), "Ops", use_pmi=False)
    assert (
        started.outcome is Outcome.STARTED and zoom_sim.created[-1]["host"] == "alice@example.com"
    )
    refused = await zoom.start(
        UserId(stranger), ChannelId(channel), "Ops", use_pmi=False, force=True
    )
    assert refused.outcome is Outcome.REFUSED and "404" in refused.text
    assert "Only system admins" in await zoom.disconnect(UserId(alice), is_admin=False)


async def test_restricting_public_channels_and_the_channel_filter(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, mattermost: MattermostStandIn
) -> None:
    alice = mattermost.add_user("alice")
    public = mattermost.add_channel("Town", kind="O")
    await connect(zoomed, zoom_sim, alice, public)
    await zoomed.components.admin.change_setting("zoom_restrict_public_channels", True, "test")
    await zoomed.components.state.refresh()
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(public), "", use_pmi=False)
    assert result.outcome is Outcome.REFUSED and "public channels" in result.text
    private = mattermost.add_channel("Private", kind="P")
    await zoomed.components.admin.set_channel_allowed(ChannelId(private), False, "test")
    await zoomed.components.state.refresh()
    refused = await zoom_of(zoomed).start(UserId(alice), ChannelId(private), "", use_pmi=False)
    assert refused.text == "Conference not available for this channel"


async def test_disconnect_and_key_regeneration(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel)
    zoom = zoom_of(zoomed)
    assert (
        await zoom.disconnect(UserId(alice), is_admin=False) == "Your Zoom account is disconnected."
    )
    assert (
        await zoom.start(UserId(alice), ChannelId(channel), "", use_pmi=False)
    ).outcome is Outcome.CONNECT
    await connect(zoomed, zoom_sim, alice, channel)
    core = zoomed.components.core
    assert await regenerate_key(core.database, core.box, core.clock, "test") == 1
    assert (
        await zoom.start(UserId(alice), ChannelId(channel), "", use_pmi=False)
    ).outcome is Outcome.CONNECT


# --- webhooks --------------------------------------------------------------------------


async def webhook_path(service: RunningApp) -> str:
    url = await zoom_of(service).webhook_url()
    return url.removeprefix(service.components.core.config.effective_public_url)


async def started_meeting(
    service: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> zoom_repo.ZoomMeeting:
    alice, channel = people
    await connect(service, zoom_sim, alice, channel, start=False)
    result = await zoom_of(service).start(
        UserId(alice), ChannelId(channel), "Weekly", use_pmi=False
    )
    assert result.outcome is Outcome.STARTED
    async with service.components.core.database.read() as conn:
        meeting = await zoom_repo.latest_for_zoom_id(conn, result.url.split("/j/")[1].split("?")[0])
    assert meeting is not None
    return meeting


async def test_url_validation_challenge(zoomed: RunningApp) -> None:
    path = await webhook_path(zoomed)
    body, headers = signed_webhook(
        "endpoint.url_validation", {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, SECRET_TOKEN
    )
    response = await zoomed.http.post(path, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == webhooks.url_validation(SECRET_TOKEN, "qgg8vlvZRS6UYooatFL8Aw")


async def test_url_validation_is_not_a_signing_oracle(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    """An unsigned challenge whose plainToken is "v0:{ts}:{forged body}" would return a valid
    signature for the forged event: the challenge must itself be signed."""
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    forged = orjson.dumps(
        {"event": "meeting.ended", "payload": meeting_event("meeting.ended", meeting.meeting_id)}
    )
    timestamp = str(int(time.time()))
    challenge = orjson.dumps(
        {
            "event": "endpoint.url_validation",
            "payload": {"plainToken": f"v0:{timestamp}:{forged.decode()}"},
        }
    )
    answer = await zoomed.http.post(
        path, content=challenge, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401
    assert "encryptedToken" not in answer.text
    async with zoomed.components.core.database.read() as conn:
        after = await zoom_repo.meeting(conn, meeting.id)
    assert after is not None and after.ended_at is None


async def test_url_validation_with_a_forged_or_stale_signature_is_refused(
    zoomed: RunningApp,
) -> None:
    path = await webhook_path(zoomed)
    payload = {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}
    for body, headers in (
        signed_webhook("endpoint.url_validation", payload, "not-the-secret"),
        signed_webhook("endpoint.url_validation", payload, SECRET_TOKEN, timestamp=1_000_000_000),
    ):
        response = await zoomed.http.post(path, content=body, headers=headers)
        assert response.status_code == 401 and "encryptedToken" not in response.text


@pytest.mark.parametrize("timestamp", ["nan", "inf", "-inf", "1e999"])
async def test_a_correctly_signed_webhook_with_a_non_finite_timestamp_is_refused(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str], timestamp: str
) -> None:
    """A "nan" timestamp never goes stale: a captured request could be replayed for ever."""
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    body, headers = signed_webhook(
        "meeting.ended", meeting_event("meeting.ended", meeting.meeting_id), SECRET_TOKEN
    )
    headers["x-zm-request-timestamp"] = timestamp
    headers["x-zm-signature"] = (
        "v0="
        + hmac.new(
            SECRET_TOKEN.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
        ).hexdigest()
    )
    assert (await zoomed.http.post(path, content=body, headers=headers)).status_code == 401
    async with zoomed.components.core.database.read() as conn:
        after = await zoom_repo.meeting(conn, meeting.id)
    assert after is not None and after.ended_at is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-zm-signature", "v0=\u00e9t\u00e9".encode("latin-1")),
        ("x-zm-request-timestamp", "17\u00e900".encode("latin-1")),
        ("x-zm-signature", b"v0=" + b"a" * 5000),
    ],
)
async def test_malformed_signature_headers_get_401_not_500(
    zoomed: RunningApp, name: str, value: bytes
) -> None:
    path = await webhook_path(zoomed)
    body, headers = signed_webhook(
        "meeting.started", meeting_event("meeting.started", 81_999), SECRET_TOKEN
    )
    raw_headers = {k.encode(): v.encode() for k, v in headers.items()}
    raw_headers[name.encode()] = value
    response = await zoomed.http.post(path, content=body, headers=raw_headers)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "expected a Zoom event"),
        (b'{"event": 7}', "application/json", "expected a Zoom event"),
        (b'{"event": "endpoint.url_validation", "payload": {}}', "application/json", "plainToken"),
        (b'{"event": "meeting.started"}', "text/plain", "application/json"),
    ],
)
async def test_signed_but_malformed_webhooks_get_400_with_the_reason(
    zoomed: RunningApp, body: bytes, content_type: str, message: str
) -> None:
    path = await webhook_path(zoomed)
    timestamp = str(int(time.time()))
    digest = hmac.new(
        SECRET_TOKEN.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    headers = {
        "content-type": content_type,
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest}",
    }
    response = await zoomed.http.post(path, content=body, headers=headers)
    assert response.status_code == 400 and message in response.json()["error"]


async def test_webhooks_are_refused_while_no_secret_token_is_set(zoomed: RunningApp) -> None:
    zoomed.components.state.secrets.pop("zoom_webhook_secret_token")  # never set (a new install)
    body, headers = signed_webhook("endpoint.url_validation", {"plainToken": "p"}, "")
    response = await zoomed.http.post(await webhook_path(zoomed), content=body, headers=headers)
    assert response.status_code == 400 and "zoom_webhook_secret_token" in response.text


async def test_meeting_ended_updates_the_meeting(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    for event, extra in (
        ("meeting.started", {"start_time": "2026-11-22T10:00:00Z"}),
        (
            "meeting.ended",
            {"start_time": "2026-11-22T10:00:00Z", "end_time": "2026-11-22T10:42:10Z"},
        ),
    ):
        body, headers = signed_webhook(
            event, meeting_event(event, meeting.meeting_id, **extra), SECRET_TOKEN
        )
        assert (await zoomed.http.post(path, content=body, headers=headers)).status_code == 200
    async with zoomed.components.core.database.read() as conn:
        ended = await zoom_repo.meeting(conn, meeting.id)
    assert ended is not None and ended.duration_minutes == 43 and ended.ended_at is not None


async def test_forged_replayed_and_stale_webhooks_change_nothing(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    payload = meeting_event("meeting.ended", meeting.meeting_id)
    forged_body, forged_headers = signed_webhook("meeting.ended", payload, "not-the-secret")
    stale_body, stale_headers = signed_webhook(
        "meeting.ended", payload, SECRET_TOKEN, timestamp=1_000_000_000
    )
    good_body, good_headers = signed_webhook(
        "meeting.started", meeting_event("meeting.started", meeting.meeting_id), SECRET_TOKEN
    )
    attempts = [
        (path, forged_body, forged_headers),
        (path, stale_body, stale_headers),
        (path, good_body[:-1] + b" }", good_headers),  # body changed after signing
        (path.split("?")[0] + "?secret=wrong", good_body, good_headers),
        (path, good_body, {k: v for k, v in good_headers.items() if k != "x-zm-signature"}),
    ]
    for url, body, headers in attempts:
        assert (await zoomed.http.post(url, content=body, headers=headers)).status_code == 401
    assert (
        await zoomed.http.post(path, content=good_body, headers=good_headers)
    ).status_code == 200
    assert (
        await zoomed.http.post(path, content=good_body, headers=good_headers)
    ).status_code == 401  # replay
    async with zoomed.components.core.database.read() as conn:
        after = await zoom_repo.meeting(conn, meeting.id)
    assert after is not None and after.ended_at is None and after.started_at is not None


async def test_a_webhook_whose_processing_fails_is_applied_when_zoom_retries(
    zoomed: RunningApp,
    zoom_sim: ZoomSimulator,
    people: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The receipt (replay protection) and the effect commit together: a delivery that fails
    half-way leaves no receipt, so Zoom's retry of the same signed request is applied."""
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    body, headers = signed_webhook(
        "meeting.ended",
        meeting_event(
            "meeting.ended",
            meeting.meeting_id,
            start_time="2026-11-22T10:00:00Z",
            end_time="2026-11-22T10:30:00Z",
        ),
        SECRET_TOKEN,
    )
    update_meeting = zoom_repo.update_meeting
    failures: list[int] = []

    async def fails_once(conn: object, row_id: int, **values: object) -> None:
        if not failures:
            failures.append(row_id)
            raise ConnectionResetError("the database connection dropped mid-event")
        await update_meeting(conn, row_id, **values)  # type: ignore[arg-type]

    monkeypatch.setattr(zoom_repo, "update_meeting", fails_once)
    transport = httpx2.ASGITransport(app=zoomed.app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://meetbridge") as zoom:
        first = await zoom.post(path, content=body, headers=headers)
        assert first.status_code >= 500 and failures
        retry = await zoom.post(path, content=body, headers=headers)
        assert retry.status_code == 200, retry.text
        replay = await zoom.post(path, content=body, headers=headers)
        assert replay.status_code == 401  # once applied, the same request is a replay
    async with zoomed.components.core.database.read() as conn:
        ended = await zoom_repo.meeting(conn, meeting.id)
    assert ended is not None and ended.duration_minutes == 30


async def test_the_same_webhook_delivered_twice_at_once_is_applied_once(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    recording = meeting_event(
        "recording.completed",
        meeting.meeting_id,
        recording_files=[{"file_type": "MP4", "play_url": "https://us02web.zoom.test/rec/play/2"}],
    )
    body, headers = signed_webhook("recording.completed", recording, SECRET_TOKEN)
    answers = await asyncio.gather(
        *(zoomed.http.post(path, content=body, headers=headers) for _ in range(2))
    )
    assert sorted(answer.status_code for answer in answers) == [200, 401]
    async with zoomed.components.core.database.read() as conn:
        replies = await conn.scalar(select(func.count()).where(outbox.c.kind == "zoom.reply"))
    assert replies == 1


async def test_recordings_post_links_and_the_password_only_when_enabled(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    meeting = await started_meeting(zoomed, zoom_sim, people)
    path = await webhook_path(zoomed)
    recording = meeting_event(
        "recording.completed",
        meeting.meeting_id,
        password="rec-pass",
        recording_files=[
            {
                "file_type": "MP4",
                "recording_type": "shared_screen_with_speaker_view",
                "play_url": "https://zoom.test/rec/play/1",
            }
        ],
    )
    body, headers = signed_webhook("recording.completed", recording, SECRET_TOKEN)
    assert (await zoomed.http.post(path, content=body, headers=headers)).status_code == 200
    async with zoomed.components.core.database.read() as conn:
        replies = [
            row.payload
            for row in await conn.execute(select(outbox).where(outbox.c.kind == "zoom.reply"))
        ]
    assert len(replies) == 1
    assert (
        "https://zoom.test/rec/play/1" in replies[0]["message"]
        and "rec-pass" not in replies[0]["message"]
    )


async def test_a_join_link_off_the_zoom_host_is_refused_not_posted(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    await connect(zoomed, zoom_sim, alice, channel, start=False)
    zoom_sim.join_base = "https://evil.example"
    result = await zoom_of(zoomed).start(UserId(alice), ChannelId(channel), "x", use_pmi=False)
    assert result.outcome is Outcome.REFUSED and "join link" in result.text
    async with zoomed.components.core.database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(zoom_meetings)) == 0


async def test_recording_links_off_the_zoom_host_and_markdown_passwords_are_not_posted(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    meeting = await started_meeting(zoomed, zoom_sim, people)
    await zoomed.components.admin.change_setting("zoom_post_recording_password", True, "test")
    await zoomed.components.state.refresh()
    recording = meeting_event(
        "recording.completed",
        meeting.meeting_id,
        password="[pw](https://evil.example) @all",
        recording_files=[
            {"file_type": "MP4", "play_url": "https://evil.example/rec/1"},
            {"file_type": "MP4", "play_url": "https://zoom.test/rec/play/2"},
        ],
    )
    body, headers = signed_webhook("recording.completed", recording, SECRET_TOKEN)
    path = await webhook_path(zoomed)
    assert (await zoomed.http.post(path, content=body, headers=headers)).status_code == 200
    async with zoomed.components.core.database.read() as conn:
        (reply,) = [
            row.payload["message"]
            for row in await conn.execute(select(outbox).where(outbox.c.kind == "zoom.reply"))
        ]
    assert "https://zoom.test/rec/play/2" in reply
    assert "evil.example/rec" not in reply and "](https://evil" not in reply
    assert "@all" not in reply


# --- Zoom through the engine seam: /meet and its buttons reach ZoomEngine via the registry ----


def _buttons(answer: dict[str, object]) -> list[dict[str, object]]:
    attachments = answer.get("attachments") or []
    assert isinstance(attachments, list)
    return [action for attachment in attachments for action in attachment["actions"]]


async def test_meet_start_in_a_zoom_channel_asks_then_the_buttons_start_through_the_engine(
    zoomed: RunningApp, zoom_sim: ZoomSimulator, people: tuple[str, str]
) -> None:
    alice, channel = people
    components = zoomed.components
    await components.engines.set_engine(ChannelId(channel), "zoom", "test")
    await connect(zoomed, zoom_sim, alice, channel)
    invocation = Invocation(UserId(alice), ChannelId(channel), "t" * 26, "start Retro")

    asked = await components.interactions.command(invocation)
    assert asked["text"].startswith("Which meeting ID would you like to use?")
    choices = {b["name"]: b["integration"]["context"] for b in _buttons(asked)}  # type: ignore[index]
    assert set(choices) == {"Use my personal meeting ID", "Use a new meeting ID"}
    pmi = choices["Use my personal meeting ID"]
    clicked = await components.interactions.click(
        VerifiedAction(pmi["action"], channel, pmi["target"], alice), UserId(alice)
    )
    assert clicked["goto_location"].startswith("https://meetbridge.example.com/zoom/join/")
    assert "5551234567" not in clicked["ephemeral_text"]  # meetbridge's link, not Zoom's

    again = await components.interactions.command(invocation)
    assert "started in this channel moments ago" in again["text"]
    [force] = [b["integration"]["context"] for b in _buttons(again)]  # type: ignore[index]
    assert force["action"] == "zoomforce"
    # A click's answer cannot carry buttons: a user who has not chosen asks /meet settings first.
    await components.zoom.set_pmi_preference(UserId(alice), PmiPreference.NEW)
    forced = await components.interactions.click(
        VerifiedAction(force["action"], channel, force["target"], alice), UserId(alice)
    )
    assert "Your Zoom meeting is ready" in forced["ephemeral_text"]
    assert len(zoom_sim.created) == 1 and zoom_sim.created[0]["topic"] == "Retro"


async def test_the_status_page_lists_zoom_with_what_it_still_needs(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    page = await service.http.get("/", headers=await service.admin_cookie(mattermost))
    assert "Zoom: set zoom_client_id, zoom_client_secret" in page.text


async def test_the_status_page_lists_a_configured_zoom_as_ready(
    zoomed: RunningApp, mattermost: MattermostStandIn
) -> None:
    page = await zoomed.http.get("/", headers=await zoomed.admin_cookie(mattermost))
    assert '<th scope="row">Zoom' in page.text and "Zoom: set" not in page.text
