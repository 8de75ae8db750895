"""The ASGI application: built by a factory, resources owned by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx2
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from meetbridge.chat.mattermost.client import MattermostClient, build_http_client
from meetbridge.chat.mattermost.directory import MattermostDirectory, UnconfiguredDirectory
from meetbridge.clock import Clock, SystemClock
from meetbridge.config import ServiceConfig
from meetbridge.core import Core, load_master_key, prepare_schema
from meetbridge.metrics import Metrics
from meetbridge.services.admin import AdminService
from meetbridge.services.event_applier import BatchResult, EventApplier
from meetbridge.services.policy import PolicyService
from meetbridge.services.shared_state import SharedState
from meetbridge.store import inbox as inbox_store
from meetbridge.store import meetings_repo
from meetbridge.store.database import open_database
from meetbridge.store.inbox import InboxWriter
from meetbridge.web.asgi import PrefixDispatcher
from meetbridge.web.health import HealthEndpoints
from meetbridge.web.pexip import PREFIX as PEXIP_PREFIX
from meetbridge.web.pexip import PexipEndpoints
from meetbridge.web.responses import error_response

log = structlog.get_logger(__name__)

INBOX_DEPTH_INTERVAL = 10.0
INBOX_RETENTION = 7 * 24 * 3600.0


@dataclass
class Components:
    """Everything the application is made of, exposed as ``app.state.components``."""

    core: Core
    metrics: Metrics
    state: SharedState
    admin: AdminService
    directory: MattermostDirectory | UnconfiguredDirectory
    mattermost: MattermostClient | None
    policy: PolicyService
    inbox: InboxWriter
    applier: EventApplier


def build_components(
    config: ServiceConfig,
    clock: Clock | None = None,
    mattermost_transport: httpx2.AsyncBaseTransport | None = None,
) -> Components:
    clock = clock or SystemClock()
    core = Core(
        config, open_database(config.effective_database_url), load_master_key(config), clock
    )
    metrics = Metrics()
    state = SharedState(core.database, core.box, clock)
    mattermost: MattermostClient | None = None
    directory: MattermostDirectory | UnconfiguredDirectory = UnconfiguredDirectory()
    if config.mattermost_url and config.mattermost_token is not None:
        http = build_http_client(
            config.mattermost_url,
            config.mattermost_token.get_secret_value(),
            transport=mattermost_transport,
        )
        mattermost = MattermostClient(http)
        directory = MattermostDirectory(mattermost, clock, config.mattermost_lookup_timeout)
    applier = EventApplier(
        core.database, state, core.box, core.call_tags, clock, on_batch=_count_batch(metrics)
    )

    def committed(rows: int) -> None:
        metrics.inbox_depth.inc(rows)
        applier.wake()

    return Components(
        core=core,
        metrics=metrics,
        state=state,
        admin=AdminService(core.database, core.box, clock),
        directory=directory,
        mattermost=mattermost,
        policy=PolicyService(state, directory, directory, core.call_tags),
        inbox=InboxWriter(core.database, on_commit=committed),
        applier=applier,
    )


def _count_batch(metrics: Metrics) -> Callable[[BatchResult], None]:
    def count(result: BatchResult) -> None:
        metrics.inbox_depth.dec(result.total)
        for outcome in ("applied", "duplicates", "unused", "not_ours"):
            value = getattr(result, outcome)
            if value:
                metrics.events_applied.labels(outcome.removesuffix("s")).inc(value)

    return count


def create_app(
    config: ServiceConfig,
    *,
    clock: Clock | None = None,
    mattermost_transport: httpx2.AsyncBaseTransport | None = None,
    auto_migrate: bool | None = None,
) -> MeetbridgeApp:
    components = build_components(config, clock, mattermost_transport)
    pexip = PexipEndpoints(
        components.state, components.policy, components.inbox, components.metrics
    )
    health = HealthEndpoints(components.core.database, components.metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        migrate = components.core.database.is_sqlite if auto_migrate is None else auto_migrate
        await prepare_schema(components.core, migrate)
        await components.admin.credentials()  # generated on first start
        await components.state.load()
        await components.inbox.start()
        tasks = [
            asyncio.create_task(components.applier.run(), name="event-applier"),
            asyncio.create_task(components.state.run_refresher(), name="shared-state"),
            asyncio.create_task(_inbox_housekeeping(components), name="inbox-housekeeping"),
        ]
        log.info("meetbridge.started", public_url=config.effective_public_url)
        try:
            yield
        finally:
            await components.inbox.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if components.mattermost is not None:
                await components.mattermost.close()
            await components.core.close()

    app = Starlette(
        routes=health.routes(),
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.components = components
    return MeetbridgeApp(app, pexip)


class MeetbridgeApp(PrefixDispatcher):
    """The Starlette application with the Pexip hot paths routed around it."""

    def __init__(self, app: Starlette, pexip: PexipEndpoints) -> None:
        super().__init__(PEXIP_PREFIX, pexip, app)
        self.starlette = app

    @property
    def components(self) -> Components:
        components: Components = self.starlette.state.components
        return components


async def _inbox_housekeeping(components: Components) -> None:
    """Keep the depth gauge honest (other replicas apply too) and forget old applied events."""
    database, clock = components.core.database, components.core.clock
    while True:
        try:
            async with database.read() as conn:
                components.metrics.inbox_depth.set(await inbox_store.depth(conn))
                in_progress = await meetings_repo.count_in_progress(conn)
                components.metrics.meetings_in_progress.set(in_progress)
            async with database.transaction() as conn:
                await inbox_store.prune(conn, clock.now() - INBOX_RETENTION)
        except Exception:
            log.exception("inbox.housekeeping_failed")
        await asyncio.sleep(INBOX_DEPTH_INTERVAL)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, f"not found: {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(405, f"method {request.method} not allowed on {request.url.path}")
