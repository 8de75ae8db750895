"""The ASGI application: built by a factory, resources owned by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.catalogue import CatalogueSync
from meetbridge.chat.mattermost.client import MattermostClient, build_http_client
from meetbridge.chat.mattermost.directory import MattermostDirectory, UnconfiguredDirectory
from meetbridge.chat.mattermost.interactions import MeetInteractions
from meetbridge.chat.mattermost.oauth import MattermostOAuth
from meetbridge.chat.mattermost.platform import MattermostPlatform
from meetbridge.chat.mattermost.plugin_events import PluginEvents
from meetbridge.chat.mattermost.setup import MattermostSetup
from meetbridge.chat.mattermost.websocket import WebSocketListener
from meetbridge.clock import Clock, SystemClock
from meetbridge.config import ServiceConfig
from meetbridge.core import (
    Core,
    key_storage_warnings,
    load_master_key,
    load_metrics_token,
    prepare_schema,
)
from meetbridge.doctor.cached import CachedDoctor
from meetbridge.doctor.run import diagnose
from meetbridge.domain.ids import ChannelId
from meetbridge.domain.recording import RecordingLimits
from meetbridge.engines.livekit.admission import LiveKitAdmission
from meetbridge.engines.livekit.captions import CaptionSettings, LiveKitCaptions
from meetbridge.engines.livekit.configured import livekit_settings
from meetbridge.engines.livekit.controls import (
    RECENT_CHAT,
    ROOM_STATE_KEPT,
    STATS_KEPT,
    MeetingControls,
)
from meetbridge.engines.livekit.engine import LiveKitEngine
from meetbridge.engines.livekit.reconcile import LiveKitReconciler
from meetbridge.engines.livekit.recording import LiveKitRecordings, RecordingSettings
from meetbridge.engines.livekit.translator import LiveKitTranslator
from meetbridge.engines.pexip.chat import PexipChatMirror
from meetbridge.engines.pexip.client_api import InfinityClientApi
from meetbridge.engines.pexip.controls import PexipControls
from meetbridge.engines.pexip.engine import PexipEngine
from meetbridge.engines.pexip.guest_links import GuestLinks
from meetbridge.engines.pexip.policy_seen import PolicySeen
from meetbridge.engines.pexip.policy_service import PolicyService
from meetbridge.engines.pexip.translator import PexipTranslator
from meetbridge.engines.registry import EngineRegistry
from meetbridge.engines.zoom.cards import ZOOM_CARD, ZOOM_REPLY, ZoomCards
from meetbridge.engines.zoom.engine import ZoomEngine
from meetbridge.engines.zoom.service import ZoomService
from meetbridge.metrics import Metrics
from meetbridge.services.admin import AdminService
from meetbridge.services.admin_console import AdminConsole
from meetbridge.services.channel_limits import ChannelLimits
from meetbridge.services.command_auth import CommandTokenCheck, LookupBudget
from meetbridge.services.confirmations import Confirmations
from meetbridge.services.event_applier import BatchResult, EventApplier
from meetbridge.services.join import JoinService
from meetbridge.services.meeting_chat import MeetingChat, MeetingSink, reply_from_event
from meetbridge.services.meeting_queries import MeetingQueries
from meetbridge.services.membership import MembershipWatch
from meetbridge.services.notifications import MeetingNotifier
from meetbridge.services.outbox_worker import OutboxWorker
from meetbridge.services.shared_state import SharedState
from meetbridge.store import chat_repo, meetings_repo, outbox_repo, room_state_repo
from meetbridge.store import inbox as inbox_store
from meetbridge.store.applier_leadership import ApplierLeadership
from meetbridge.store.database import open_database
from meetbridge.store.inbox import InboxWriter
from meetbridge.transcription.jobs import Transcriptions, TranscriptionSettings
from meetbridge.web.admin import AdminEndpoints
from meetbridge.web.asgi import PrefixDispatcher
from meetbridge.web.controls import ControlEndpoints
from meetbridge.web.guest import GuestEndpoints
from meetbridge.web.health import HealthEndpoints
from meetbridge.web.identity import IdentityGate
from meetbridge.web.join import JoinEndpoints
from meetbridge.web.limits import RequestSizeLimits
from meetbridge.web.livekit import LiveKitEndpoints
from meetbridge.web.mattermost import MattermostEndpoints
from meetbridge.web.pexip import PREFIX as PEXIP_PREFIX
from meetbridge.web.pexip import PexipEndpoints
from meetbridge.web.plugin import PluginEndpoints
from meetbridge.web.request_ids import RequestIds
from meetbridge.web.responses import error_response
from meetbridge.web.status import MattermostStatus, StatusEndpoints
from meetbridge.web.zoom import ZoomEndpoints

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).with_name("static")  # built by `make run` (npm run build in web/)
HOUSEKEEPING_INTERVAL = 10.0
INBOX_RETENTION = 7 * 24 * 3600.0
INTENT_RETENTION = 24 * 3600.0


@dataclass
class ChatComponents:
    """The Mattermost side, present when MEETBRIDGE_MATTERMOST_URL and a token are configured."""

    client: MattermostClient
    directory: MattermostDirectory
    setup: MattermostSetup
    platform: MattermostPlatform
    outbox: OutboxWorker
    websocket: WebSocketListener
    oauth: MattermostOAuth
    oauth_http: httpx2.AsyncClient
    catalogue: CatalogueSync
    plugin_events: PluginEvents


@dataclass
class Components:
    """Everything the application is made of (``app.components``)."""

    core: Core
    metrics: Metrics
    state: SharedState
    admin: AdminService
    directory: MattermostDirectory | UnconfiguredDirectory
    policy: PolicyService
    inbox: InboxWriter
    applier: EventApplier
    join: JoinService
    buttons: ActionSigner
    console: AdminConsole
    interactions: MeetInteractions
    zoom: ZoomService
    confirmations: Confirmations
    engines: EngineRegistry
    livekit: LiveKitEngine
    controls: MeetingControls
    recordings: LiveKitRecordings
    captions: LiveKitCaptions
    transcriptions: Transcriptions
    livekit_reconciler: LiveKitReconciler
    livekit_admission: LiveKitAdmission
    membership: MembershipWatch
    meeting_chat: MeetingChat
    pexip: PexipEngine
    pexip_controls: PexipControls
    guest_links: GuestLinks
    chat: ChatComponents | None = None
    leadership: ApplierLeadership | None = None  # PostgreSQL: which replica applies events
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def mattermost(self) -> MattermostClient | None:
        return None if self.chat is None else self.chat.client


def build_components(
    config: ServiceConfig,
    clock: Clock | None = None,
    mattermost_transport: httpx2.AsyncBaseTransport | None = None,
    zoom_transport: httpx2.AsyncBaseTransport | None = None,
    livekit_transport: httpx2.AsyncBaseTransport | None = None,
    pexip_transport: httpx2.AsyncBaseTransport | None = None,
) -> Components:
    clock = clock or SystemClock()
    public_url = config.effective_public_url
    core = Core(
        config, open_database(config.effective_database_url), load_master_key(config), clock
    )
    metrics = Metrics()
    state = SharedState(core.database, core.box, clock)
    admin = AdminService(core.database, core.box, clock)
    buttons = ActionSigner(core.button_signer, f"{public_url}/api/mattermost/action")
    chat = _chat_components(config, core, state, clock, buttons, mattermost_transport)
    directory: MattermostDirectory | UnconfiguredDirectory = (
        UnconfiguredDirectory() if chat is None else chat.directory
    )
    channel_limits = ChannelLimits(core.database)
    livekit = LiveKitEngine(
        lambda: livekit_settings(config, state),
        core.controls,
        clock,
        public_url,
        livekit_transport,
        channel_limits.limit_for,
    )
    pexip = PexipEngine(
        state,
        core.call_tags,
        core.database,
        directory,
        # meetbridge's own chair session on Conferencing Nodes (host controls, hand-over)
        InfinityClientApi(httpx2.AsyncClient(timeout=5.0, transport=pexip_transport), clock),
        core.controls,
        clock,
        public_url,
    )
    pexip_controls = PexipControls(pexip, core.controls, clock, core.database)
    engines = EngineRegistry(core.database, state, clock, {"livekit": livekit, "pexip": pexip})
    join = JoinService(state, directory, core.database, core.links, clock, public_url, engines)
    guest_links = GuestLinks(
        pexip, engines, directory, state, core.database, core.links, clock, public_url,
        core.call_tags,
    )  # fmt: skip
    outbox = None if chat is None else chat.outbox
    console = AdminConsole(core.database, core.links, directory, clock)
    zoom = ZoomService(
        core.database,
        core.box,
        state,
        directory,
        join,
        httpx2.AsyncClient(timeout=10.0, transport=zoom_transport),
        core.links,
        clock,
        public_url,
    )
    engines.register(ZoomEngine(zoom, join))
    if outbox is not None:
        outbox.use_engines(engines)
        cards = ZoomCards(core.database, directory, state)
        outbox.register(ZOOM_CARD, cards.sync_card, final_state=True)
        outbox.register(ZOOM_REPLY, cards.reply)
    confirmations = Confirmations(core.links, core.database, clock)
    leadership = (
        ApplierLeadership(
            core.database,
            on_inbox=lambda: applier.wake(),
            high_priority=config.applier_priority == "high",
        )
        if core.database.is_postgresql
        else None
    )
    metrics.applier_leading.set_function(
        lambda: 1.0 if leadership is None or leadership.leading else 0.0
    )
    applier = EventApplier(
        core.database,
        state,
        core.box,
        [
            PexipTranslator(lambda: state.settings.alias_prefix, core.call_tags),
            LiveKitTranslator(),
        ],
        clock,
        on_meeting_events=None if chat is None else MeetingNotifier(state, clock),
        on_batch=_after_batch(metrics, outbox, pexip_controls),
        leadership=leadership,
    )

    def committed(rows: int) -> None:
        metrics.inbox_depth.inc(rows)
        applier.wake()

    inbox = InboxWriter(core.database, on_commit=committed)
    meeting_chat = MeetingChat(
        core.database,
        clock,
        outbox.wake if outbox is not None else (lambda: None),
        directory,
        lambda: state.settings.display_name,
        default_locale=directory.default_locale,
    )
    transcriptions = Transcriptions(
        core.database,
        clock,
        lambda: transcription_settings(config, state),
        outbox.wake if outbox is not None else (lambda: None),
        metrics.transcription,
        default_locale=directory.default_locale,
    )
    recordings = LiveKitRecordings(
        livekit,
        core.database,
        clock,
        lambda: recording_settings(config, state),
        outbox.wake if outbox is not None else (lambda: None),
        transcriptions=transcriptions,
        default_locale=directory.default_locale,
    )
    captions = LiveKitCaptions(livekit, clock, lambda: caption_settings(config, state))
    controls = MeetingControls(
        livekit,
        core.controls,
        clock,
        directory,
        core.database,
        meeting_chat.to_thread,
        recordings,
        captions,
    )
    admission = LiveKitAdmission(livekit, directory, controls.welcome)
    pexip_chat = PexipChatMirror(pexip, meeting_chat.to_thread, clock)
    pexip_controls.chat = pexip_chat
    membership = MembershipWatch(core.database, directory, engines)
    if chat is not None:
        chat.websocket.on_event = _thread_replies(
            meeting_chat, _to_meetings(controls, pexip_chat), chat.setup
        )
        chat.websocket.on_membership_lost = membership.lost
    return Components(
        core=core,
        metrics=metrics,
        state=state,
        admin=admin,
        directory=directory,
        policy=PolicyService(
            state, directory, directory, core.call_tags, core.database, clock, pexip
        ),
        inbox=inbox,
        applier=applier,
        leadership=leadership,
        join=join,
        buttons=buttons,
        console=console,
        interactions=MeetInteractions(
            join,
            admin,
            directory,
            core.database,
            buttons,
            console,
            clock,
            public_url,
            outbox.wake if outbox is not None else (lambda: None),
            confirmations,
            None if chat is None else chat.client,
            engines,
            channel_limits,
            controls.last_stats,  # one store: every engine's page reports there
            guest_links.create,
            recordings,
            captions,
        ),
        zoom=zoom,
        confirmations=confirmations,
        engines=engines,
        livekit=livekit,
        controls=controls,
        recordings=recordings,
        captions=captions,
        transcriptions=transcriptions,
        livekit_reconciler=LiveKitReconciler(livekit, core.database, inbox, clock, admission),
        livekit_admission=admission,
        membership=membership,
        meeting_chat=meeting_chat,
        pexip=pexip,
        pexip_controls=pexip_controls,
        guest_links=guest_links,
        chat=chat,
    )


def _chat_components(
    config: ServiceConfig,
    core: Core,
    state: SharedState,
    clock: Clock,
    buttons: ActionSigner,
    transport: httpx2.AsyncBaseTransport | None,
) -> ChatComponents | None:
    if not config.mattermost_url or config.mattermost_token is None:
        return None
    token = config.mattermost_token.get_secret_value()
    public_url = config.effective_public_url
    client = MattermostClient(build_http_client(config.mattermost_url, token, transport=transport))
    directory = MattermostDirectory(client, clock, config.mattermost_lookup_timeout)
    setup = MattermostSetup(
        client,
        core.database,
        core.box,
        clock,
        public_url,
        config.command_trigger,
        on_command_token=state.remember_command_token,
    )
    oauth_http = httpx2.AsyncClient(
        base_url=config.mattermost_url, timeout=10.0, transport=transport
    )
    # oauth_http carries no bot token, as calls to the companion plugin must not.
    plugin_events = PluginEvents(
        oauth_http, lambda: state.secrets.get("plugin_shared_secret", ""), clock
    )
    platform = MattermostPlatform(client, buttons, plugin_events, public_url)
    return ChatComponents(
        client=client,
        directory=directory,
        setup=setup,
        platform=platform,
        outbox=OutboxWorker(
            core.database, platform, directory, state, clock, lease=config.outbox_lease
        ),
        websocket=WebSocketListener(config.mattermost_url, token, directory),
        oauth=MattermostOAuth(
            oauth_http, config.mattermost_public_url or config.mattermost_url, setup
        ),
        oauth_http=oauth_http,
        catalogue=CatalogueSync(client, core.database, clock),
        plugin_events=plugin_events,
    )


async def livekit_reachability(components: Components) -> str:
    """The admin console's LiveKit indicator, from the settings as just saved."""
    await components.state.refresh()
    missing = components.livekit.missing_configuration()
    if missing is not None:
        return f"Not configured: set {missing}."
    if await components.livekit.reachable():
        return "Reachable with these credentials."
    return "Not reachable: check the URL, API key and secret."


def _to_meetings(controls: MeetingControls, pexip: PexipChatMirror) -> MeetingSink:
    """A thread reply goes to the channel's meeting on whichever engine holds it (each
    ignores a channel whose meeting is not its own)."""

    async def send(channel_id: ChannelId, name: str, text: str, line_id: str, at: int) -> None:
        await controls.from_thread(channel_id, name, text, line_id, at)
        await pexip.from_thread(channel_id, name, text, line_id, at)

    return send


def transcription_settings(config: ServiceConfig, state: SharedState) -> TranscriptionSettings:
    settings = state.settings
    return TranscriptionSettings(
        enabled=settings.transcription_enabled,
        workers=config.transcription_workers,
        cache=config.model_cache_dir,
        model=config.transcription_model,
        model_sha256=config.transcription_model_sha256 or None,
        language=settings.transcription_language or None,
        threads=config.transcription_threads,
    )


def caption_settings(config: ServiceConfig, state: SharedState) -> CaptionSettings:
    return CaptionSettings(
        cache=config.model_cache_dir,
        logs=config.data_dir / "captions",
        model=config.transcription_model,
        model_sha256=config.transcription_model_sha256 or None,
        language=state.settings.captions_language or None,
        threads=config.transcription_threads,
    )


def recording_settings(config: ServiceConfig, state: SharedState) -> RecordingSettings:
    settings = state.settings
    return RecordingSettings(
        directory=config.effective_recording_dir,
        limits=RecordingLimits(
            max_seconds=settings.recording_max_minutes * 60.0,
            reminder_seconds=settings.recording_reminder_minutes * 60.0,
            min_free_bytes=settings.recording_min_free_mb * 1024 * 1024,
        ),
    )


def _thread_replies(
    chat: MeetingChat, to_meeting: MeetingSink, setup: MattermostSetup
) -> Callable[[str, dict[str, Any]], None]:
    """Replies in a meeting card's thread, sent to the meeting (the listener is synchronous:
    each reply is handled in a task of its own)."""
    pending: set[asyncio.Task[bool]] = set()

    def on_event(event: str, data: dict[str, Any]) -> None:
        reply = reply_from_event(data) if event == "posted" else None
        if reply is None:
            return
        bot_id = str((setup.bot or {}).get("id", ""))
        task = asyncio.create_task(chat.from_thread(reply, bot_id, to_meeting))
        pending.add(task)
        task.add_done_callback(_forget_task(pending))

    return on_event


def _forget_task(pending: set[asyncio.Task[bool]]) -> Callable[[asyncio.Task[bool]], None]:
    def done(task: asyncio.Task[bool]) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("meeting_chat.thread_reply_failed", error=str(task.exception()))

    return done


def _mattermost_status(components: Components) -> MattermostStatus:
    chat = components.chat
    if chat is None:
        return MattermostStatus(configured=False, bot=False, command=False, events=False)
    return MattermostStatus(
        configured=True,
        bot=chat.setup.ready.is_set(),
        command=bool(components.state.command_tokens),
        events=chat.websocket.connected.is_set(),
    )


def _after_batch(
    metrics: Metrics, outbox: OutboxWorker | None, pexip: PexipControls
) -> Callable[[BatchResult], None]:
    def after(result: BatchResult) -> None:
        if result.events:
            pexip.after_events(result.events)  # committed: hand-over, mute on join
        metrics.inbox_depth.dec(result.total)
        metrics.inbox_failed.inc(result.failed)
        for outcome in ("applied", "duplicates", "unused", "not_ours", "failed", "stale"):
            value = getattr(result, outcome)
            if value:
                metrics.events_applied.labels(outcome.removesuffix("s")).inc(value)
        if result.events and outbox is not None:
            outbox.wake()

    return after


def create_app(
    config: ServiceConfig,
    *,
    clock: Clock | None = None,
    mattermost_transport: httpx2.AsyncBaseTransport | None = None,
    auto_migrate: bool | None = None,
    background: bool = True,
    zoom_transport: httpx2.AsyncBaseTransport | None = None,
    pexip_transport: httpx2.AsyncBaseTransport | None = None,
) -> MeetbridgeApp:
    """The application. ``background=False`` leaves the workers to the caller (tests)."""
    components = build_components(
        config, clock, mattermost_transport, zoom_transport, pexip_transport=pexip_transport
    )
    policy_seen = PolicySeen(components.core.database, components.core.clock)
    doctor = CachedDoctor(lambda: diagnose(config))  # for admins on the status page
    pexip = PexipEndpoints(
        components.state, components.policy, components.inbox, components.metrics, policy_seen.mark
    )
    # Links that lead to a PIN, a meeting, the console or a Zoom grant need Mattermost's word.
    identity = IdentityGate(
        None if components.chat is None else components.chat.oauth,
        components.core.links,
        components.core.clock,
        secure=config.effective_public_url.startswith("https://"),
    )
    routes: list[BaseRoute] = [
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        *HealthEndpoints(
            components.core.database, components.metrics, load_metrics_token(config)
        ).routes(),
        *MattermostEndpoints(
            CommandTokenCheck(
                components.state,
                None if components.chat is None else components.chat.setup.registered_token,
                LookupBudget(),
            ),
            components.interactions,
            components.buttons,
            components.confirmations,
        ).routes(),
        *JoinEndpoints(
            components.join,
            None if components.chat is None else components.chat.oauth,
            identity,
            frame_ancestors=config.mattermost_public_url or config.mattermost_url,
        ).routes(),
        *ZoomEndpoints(
            components.zoom,
            components.state,
            components.core.database,
            components.core.clock,
            identity,
            secure_cookies=config.effective_public_url.startswith("https://"),
        ).routes(),
        *StatusEndpoints(
            components.engines,
            components.state,
            lambda: _mattermost_status(components),
            components.console.is_signed_in,
            doctor.findings,
        ).routes(),
        *ControlEndpoints(components.controls, components.pexip_controls).routes(),
        *GuestEndpoints(components.guest_links).routes(),
        *PluginEndpoints(
            components.state,
            components.join,
            components.core.database,
            components.core.clock,
            None if components.chat is None else components.chat.platform.bot_id,
        ).routes(),
        *LiveKitEndpoints(
            lambda: livekit_settings(config, components.state),
            components.inbox,
            components.core.database,
            components.core.clock,
            on_joined=components.livekit_admission.joined,  # checked, then welcomed
            on_finished=components.controls.forget,
        ).routes(),
        *AdminEndpoints(
            config,
            components.console,
            components.admin,
            MeetingQueries(components.core.database),
            components.core.database,
            None if components.chat is None else components.chat.catalogue,
            components.core.clock,
            identity,
            components.zoom.webhook_url,
            lambda: livekit_reachability(components),
            components.guest_links,
        ).routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        migrate = components.core.database.is_sqlite if auto_migrate is None else auto_migrate
        await prepare_schema(components.core, migrate)
        await components.admin.credentials()  # generated on first start
        await components.state.load()
        await components.inbox.start()
        if background:
            _start_background(components)
        for problem in key_storage_warnings(config):
            log.warning("secret_key.storage", problem=problem)
        log.info("meetbridge.started", public_url=config.effective_public_url)
        try:
            yield
        finally:
            await policy_seen.close()
            await doctor.close()
            await _stop(components)
            log.info("meetbridge.stopped")

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.components = components
    return MeetbridgeApp(app, pexip)


def _start_background(components: Components) -> None:
    jobs: list[tuple[str, Coroutine[Any, Any, None]]] = [
        ("event-applier", components.applier.run()),
        ("shared-state", components.state.run_refresher()),
        ("housekeeping", _housekeeping(components)),
        ("livekit-reconcile", components.livekit_reconciler.run()),
        ("membership", components.membership.run()),
        ("recordings", components.recordings.run()),
        ("captions", components.captions.run()),
        ("transcriptions", components.transcriptions.run()),
    ]
    if components.chat is not None:
        jobs += [
            ("mattermost-setup", components.chat.setup.run_until_done()),
            ("mattermost-websocket", components.chat.websocket.run()),
            ("outbox", components.chat.outbox.run()),
            ("channel-catalogue", components.chat.catalogue.run()),
        ]
    components.tasks = [asyncio.create_task(job, name=name) for name, job in jobs]


async def _stop(components: Components) -> None:
    await components.inbox.stop()
    for task in components.tasks:
        task.cancel()
    await asyncio.gather(*components.tasks, return_exceptions=True)
    if components.leadership is not None:
        await components.leadership.release()
    await components.zoom.close()
    await components.livekit.close()
    await components.pexip_controls.close()
    if components.pexip_controls.chat is not None:
        await components.pexip_controls.chat.close()
    await components.pexip.api.close()
    if components.chat is not None:
        await components.chat.client.close()
        await components.chat.oauth_http.aclose()
    await components.core.close()


class MeetbridgeApp(RequestSizeLimits):
    """The Starlette application with the Pexip hot paths routed around it, every route behind
    the request-size limits."""

    def __init__(self, app: Starlette, pexip: PexipEndpoints) -> None:
        super().__init__(RequestIds(PrefixDispatcher(PEXIP_PREFIX, pexip, app)))
        self.starlette = app

    @property
    def components(self) -> Components:
        components: Components = self.starlette.state.components
        return components


async def _housekeeping(components: Components) -> None:
    """Keep gauges honest (other replicas work too) and forget what is no longer needed."""
    while True:
        try:
            await housekeep(components)
        except Exception:
            log.exception("housekeeping_failed")
        await asyncio.sleep(HOUSEKEEPING_INTERVAL)


async def housekeep(components: Components) -> None:
    """One round of housekeeping: gauges from the database, retention."""
    database, clock, metrics = components.core.database, components.core.clock, components.metrics
    async with database.read() as conn:
        metrics.inbox_depth.set(await inbox_store.depth(conn))
        metrics.inbox_failed.set(await inbox_store.count_failed(conn))
        metrics.meetings_in_progress.set(await meetings_repo.count_in_progress(conn))
        metrics.outbox_backlog.set(await outbox_repo.backlog(conn))
        metrics.outbox_dead.set(await outbox_repo.count_dead(conn))
    retention = components.state.settings.outbox_retention_days * 24 * 3600.0
    async with database.transaction() as conn:
        await outbox_repo.prune_finished(conn, clock.now() - retention)
        await inbox_store.prune(conn, clock.now() - INBOX_RETENTION)
        await chat_repo.prune_intents(conn, clock.now() - INTENT_RETENTION)
        await room_state_repo.prune(conn, clock.now(), ROOM_STATE_KEPT, STATS_KEPT, RECENT_CHAT)


async def _not_found(request: Request, exc: Exception) -> Response:
    # scope["path"], not request.url: building the URL decodes the raw query string as UTF-8.
    return error_response(404, f"not found: {request.scope['path']}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    path = request.scope["path"]
    return error_response(405, f"method {request.method} not allowed on {path}")
