"""The outbox against a Mattermost behind proxies, gateways and outages: nothing owed is lost.

A scripted Mattermost (REST over a mock transport) answers as Mattermost does, or as what can
stand in front of it does: an SSO gateway's HTML page or redirect, a proxy's 401/403/404, a
200 with a maintenance page, a revoked token, a server that is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import select

from meetbridge.config import ServiceConfig
from meetbridge.engines.zoom.cards import ZOOM_CARD, ZOOM_REPLY
from meetbridge.services.notifications import STATUS_SYNC
from meetbridge.store import chat_repo, outbox_repo, zoom_repo
from meetbridge.store.tables import outbox
from meetbridge.web.app import create_app, housekeep
from tests.conftest import RunningApp, running

BOT = "b" * 26
CHANNEL = "c" * 26
USER = "u" * 26
DAY = 24 * 3600.0


class ManualClock:
    def __init__(self) -> None:
        self.time = 1_800_000_000.0

    def now(self) -> float:
        return self.time


Answer = Callable[[httpx2.Request], httpx2.Response | None]


@dataclass
class ScriptedMattermost:
    """Mattermost's posts and ping, with whatever stands in front of it scripted."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    creates: list[dict[str, Any]] = field(default_factory=list)
    patches: list[str] = field(default_factory=list)
    ping_ok: bool = True
    failure: Answer | None = None

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/api/v4")
        if path == "/system/ping":
            if self.ping_ok:
                return _json(200, {"status": "OK"})
            return httpx2.Response(502, content=b"<html>Bad gateway</html>")
        if self.failure is not None:
            answer = self.failure(request)
            if answer is not None:
                return answer
        if path == "/users/me":
            return _json(200, {"id": BOT, "username": "meetbridge"})
        if path == f"/users/{USER}":
            status = orjson.dumps({"emoji": "calendar", "text": "In a video conference"})
            return _json(200, {"id": USER, "props": {"customStatus": status.decode()}})
        if path == f"/users/{USER}/status/custom":
            return _json(200, {"status": "OK"})
        if path == f"/channels/{CHANNEL}/posts":
            listing = {
                "order": [p["id"] for p in self.posts],
                "posts": {p["id"]: p for p in self.posts},
            }
            return _json(200, listing)
        if path == "/posts" and request.method == "POST":
            post = {
                **orjson.loads(request.content),
                "id": f"p{len(self.posts):025d}",
                "user_id": BOT,
            }
            self.creates.append(post)
            self.posts.insert(0, post)
            return _json(201, post)
        if path.startswith("/posts/") and path.endswith("/patch"):
            (post,) = [p for p in self.posts if p["id"] == path.split("/")[2]]
            post.update(orjson.loads(request.content))
            self.patches.append(post["id"])
            return _json(200, post)
        return _mattermost_error(404, "api.context.404.app_error")


def _json(status: int, body: object) -> httpx2.Response:
    return httpx2.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )


def _mattermost_error(status: int, error_id: str) -> httpx2.Response:
    return _json(status, {"id": error_id, "message": "no", "status_code": status})


def _html(status: int) -> Answer:
    page = b"<!doctype html><html><body>Maintenance - please sign in</body></html>"
    return lambda request: httpx2.Response(
        status, content=page, headers={"Content-Type": "text/html"}
    )


def _redirect_to_login(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(302, headers={"Location": "https://sso.example.com/login"})


def _from_mattermost(status: int) -> Answer:
    return lambda request: _mattermost_error(status, "api.context.permissions.app_error")


@pytest.fixture
def scripted() -> ScriptedMattermost:
    return ScriptedMattermost()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def service(
    config: ServiceConfig, scripted: ScriptedMattermost, clock: ManualClock
) -> AsyncIterator[RunningApp]:
    app = create_app(
        config,
        clock=clock,
        mattermost_transport=scripted.transport(),
        auto_migrate=True,
        background=False,
    )
    async with running(app) as running_app:
        yield running_app


async def _zoom_meeting(service: RunningApp, clock: ManualClock) -> int:
    async with service.components.core.database.transaction() as conn:
        return await zoom_repo.add_meeting(
            conn,
            channel_id=CHANNEL,
            meeting_id="81000000001",
            uuid="u1",
            join_url="https://zoom.us/j/81000000001",
            topic="Weekly",
            creator_id=USER,
            personal=False,
            created_at=clock.now(),
        )


async def _reply_item(service: RunningApp, clock: ManualClock) -> None:
    row_id = await _zoom_meeting(service, clock)
    async with service.components.core.database.transaction() as conn:
        await outbox_repo.enqueue(
            conn,
            ZOOM_REPLY,
            {"row_id": row_id, "message": "Recording ready", "key": "rec:1"},
            clock.now(),
            "rec:1",
        )


async def _items(service: RunningApp) -> list[Any]:
    async with service.components.core.database.read() as conn:
        return list(await conn.execute(select(outbox).order_by(outbox.c.id)))


async def _deliver(service: RunningApp) -> None:
    await service.components.chat.outbox.process_due()


async def _catch_up(service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost) -> None:
    scripted.failure = None
    scripted.ping_ok = True
    clock.time += 3600
    await service.components.chat.outbox.drain()


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_html(403), id="proxy-403-page"),
        pytest.param(_html(404), id="proxy-404-page"),
        pytest.param(_html(401), id="sso-401-page"),
        pytest.param(_html(200), id="200-maintenance-page"),
        pytest.param(_redirect_to_login, id="sso-redirect"),
        pytest.param(_html(502), id="bad-gateway"),
    ],
)
async def test_a_gateway_or_maintenance_answer_keeps_the_item_until_delivered(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost, answer: Answer
) -> None:
    await _reply_item(service, clock)
    scripted.failure = answer
    await _deliver(service)
    (item,) = await _items(service)
    assert item.status == outbox_repo.PENDING, item.last_error
    await _catch_up(service, clock, scripted)
    assert [i.status for i in await _items(service)] == [outbox_repo.DONE]
    assert [p["message"] for p in scripted.posts] == ["Recording ready"]


async def test_a_revoked_token_is_retried_until_an_admin_replaces_it(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    await _reply_item(service, clock)
    scripted.failure = _from_mattermost(401)
    await _deliver(service)
    assert (await _items(service))[0].status == outbox_repo.PENDING
    await _catch_up(service, clock, scripted)
    assert len(scripted.posts) == 1


@pytest.mark.parametrize("status", [403, 404])
async def test_a_refusal_while_mattermosts_ping_fails_is_retried(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost, status: int
) -> None:
    await _reply_item(service, clock)
    scripted.failure, scripted.ping_ok = _from_mattermost(status), False
    await _deliver(service)
    assert (await _items(service))[0].status == outbox_repo.PENDING
    await _catch_up(service, clock, scripted)
    assert len(scripted.posts) == 1


async def test_a_refusal_by_a_healthy_mattermost_is_dead_counted_listed_and_retriable(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    await _reply_item(service, clock)
    scripted.failure = _from_mattermost(403)
    await _deliver(service)
    database = service.components.core.database
    async with database.read() as conn:
        dead = await outbox_repo.dead_items(conn, limit=10)
        assert await outbox_repo.count_dead(conn) == 1
    assert [d.kind for d in dead] == [ZOOM_REPLY] and "403" in (dead[0].last_error or "")
    await housekeep(service.components)
    metrics = (await service.http.get("/metrics")).text
    assert "meetbridge_outbox_dead 1.0" in metrics
    scripted.failure = None
    async with database.transaction() as conn:
        assert await outbox_repo.retry_dead(conn, [dead[0].id], clock.now()) == 1
    await service.components.chat.outbox.drain()
    assert [i.status for i in await _items(service)] == [outbox_repo.DONE]
    assert len(scripted.posts) == 1


async def test_transient_failures_are_retried_for_days_and_final_states_never_dropped(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    await _reply_item(service, clock)
    row_id = await _zoom_meeting(service, clock)
    async with service.components.core.database.transaction() as conn:
        await outbox_repo.enqueue(conn, ZOOM_CARD, {"row_id": row_id}, clock.now(), "zc:1")
    scripted.failure = _html(503)
    start = clock.time
    for elapsed in (0.0, 9 * 3600.0, 3 * DAY):  # the old worker gave up after about 8 hours
        clock.time = start + elapsed
        await _deliver(service)
        assert {i.status for i in await _items(service)} == {outbox_repo.PENDING}
    clock.time = start + 8 * DAY
    await _deliver(service)
    reply, card = await _items(service)
    assert reply.status == outbox_repo.DEAD  # an ordinary item gives up after a week, visibly
    assert card.status == outbox_repo.PENDING  # a card's state is never dropped
    await _catch_up(service, clock, scripted)
    assert (await _items(service))[1].status == outbox_repo.DONE


async def test_a_status_restore_behind_a_proxy_404_is_not_lost(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    async with service.components.core.database.transaction() as conn:
        await chat_repo.save_status_backup(conn, USER, None, clock.now())
        await outbox_repo.enqueue(conn, STATUS_SYNC, {"user_id": USER}, clock.now(), "s:1")
    scripted.failure = _html(404)  # the proxy's page for every request, GET user included
    await _deliver(service)
    assert (await _items(service))[0].status == outbox_repo.PENDING
    await _catch_up(service, clock, scripted)
    async with service.components.core.database.read() as conn:
        ours, _ = await chat_repo.status_backup(conn, USER)
    assert not ours  # restored, and the backup dropped


async def test_finished_items_are_pruned_after_the_retention_period(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    await _reply_item(service, clock)
    await _deliver(service)
    retention = service.components.state.settings.outbox_retention_days * DAY
    async with service.components.core.database.transaction() as conn:
        assert await outbox_repo.prune_finished(conn, clock.now() - retention) == 0
    clock.time += retention + 1
    await housekeep(service.components)
    assert await _items(service) == []


async def _card_item(service: RunningApp, clock: ManualClock) -> int:
    row_id = await _zoom_meeting(service, clock)
    async with service.components.core.database.transaction() as conn:
        await outbox_repo.enqueue(
            conn, ZOOM_CARD, {"row_id": row_id}, clock.now(), f"zoom-card:{row_id}"
        )
    return row_id


async def test_a_card_posted_by_an_earlier_attempt_is_found_and_updated_not_posted_again(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    row_id = await _card_item(service, clock)
    # What a timed-out create left behind: Mattermost carried it out after all.
    earlier = {
        "id": "e" * 26,
        "user_id": BOT,
        "channel_id": CHANNEL,
        "message": "old",
        "props": {"meetbridge_card": f"zoom:{row_id}:{round(clock.now() * 1000)}"},
    }
    scripted.posts.append(earlier)
    await _deliver(service)  # the item's first attempt
    assert scripted.creates == [] and scripted.patches == [earlier["id"]]
    async with service.components.core.database.read() as conn:
        meeting = await zoom_repo.meeting(conn, row_id)
    assert meeting is not None and meeting.post_id == earlier["id"]


async def test_every_card_create_carries_a_stable_pending_post_id(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    first = await _card_item(service, clock)
    second = await _card_item(service, clock)
    await service.components.chat.outbox.drain()
    ids = [post.get("pending_post_id") for post in scripted.creates]
    assert len(ids) == 2 and all(ids) and len(set(ids)) == 2
    # The same card asks for the same id, so Mattermost folds a repeated create into one.
    assert all(
        f"zoom:{row}" in str(pending) for row, pending in zip((first, second), ids, strict=True)
    )


async def test_a_second_item_for_a_card_waits_while_the_first_is_being_sent(
    service: RunningApp, clock: ManualClock
) -> None:
    database, now = service.components.core.database, clock.now()
    async with database.transaction() as conn:
        await outbox_repo.enqueue(conn, ZOOM_CARD, {"row_id": 1}, now, "zoom-card:1")
        (first,) = await outbox_repo.claim(conn, now, 10, lease=120.0)
        # The meeting ends while the first attempt hangs: a second item for the same card.
        await outbox_repo.enqueue(conn, ZOOM_CARD, {"row_id": 1}, now + 1, "zoom-card:1")
        await outbox_repo.enqueue(conn, ZOOM_REPLY, {"row_id": 1}, now + 1, "other")
        taken = await outbox_repo.claim(conn, now + 2, 10, lease=120.0)
    assert [item.dedupe_key for item in taken] == ["other"]
    async with database.transaction() as conn:
        await outbox_repo.retry_later(conn, first, now + 10, 1.0, "timed out")
        (second,) = await outbox_repo.claim(conn, now + 20, 10, lease=120.0)
    assert second.dedupe_key == "zoom-card:1" and second.id != first.id


async def test_a_status_restore_refused_by_a_healthy_mattermost_is_dead_not_dropped(
    service: RunningApp, clock: ManualClock, scripted: ScriptedMattermost
) -> None:
    async with service.components.core.database.transaction() as conn:
        await chat_repo.save_status_backup(conn, USER, None, clock.now())
        await outbox_repo.enqueue(conn, STATUS_SYNC, {"user_id": USER}, clock.now(), "s:1")

    def refuse_status_changes(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/status/custom"):
            return _mattermost_error(403, "api.context.permissions.app_error")
        return None

    scripted.failure = refuse_status_changes
    await _deliver(service)
    async with service.components.core.database.read() as conn:
        assert await outbox_repo.count_dead(conn) == 1  # visible, and retriable
        ours, _ = await chat_repo.status_backup(conn, USER)
    assert ours  # still owed: a retry after the fix restores it
