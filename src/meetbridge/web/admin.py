"""The admin console: settings, Pexip credentials, the channel filter, meetings, audit log.

Server-rendered pages. Reached only through the signed link ``/meet admin`` gives a system admin
(see services/admin_console.py), opened in a browser Mattermost confirms is that admin
(web/identity.py); then a session cookie (HttpOnly, SameSite=Lax, Secure over
HTTPS, eight hours). Every change is a POST carrying the session's CSRF token, from a page of
our own origin.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import structlog
from pydantic.fields import FieldInfo
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from meetbridge.chat.mattermost.catalogue import CatalogueSync
from meetbridge.chat.mattermost.errors import MattermostError
from meetbridge.clock import Clock
from meetbridge.config import ServiceConfig
from meetbridge.crypto import constant_time_equal
from meetbridge.domain.ids import ChannelId, is_mattermost_id
from meetbridge.domain.recording import describe_length, describe_size, history_state
from meetbridge.domain.settings import (
    SECRET_SETTINGS,
    RuntimeSettings,
    SettingError,
    checked_secret,
)
from meetbridge.domain.views import describe_duration
from meetbridge.engines.pexip.guest_links import GuestLinks
from meetbridge.services.admin import AdminService
from meetbridge.services.admin_console import (
    AdminConsole,
    ConsoleAccessError,
    ConsoleSignInError,
)
from meetbridge.services.meeting_queries import MeetingQueries
from meetbridge.store import admin_repo, recordings_repo, transcriptions_repo
from meetbridge.store.admin_repo import AdminSession
from meetbridge.store.database import Database
from meetbridge.web.identity import ADMIN_PATH, IdentityGate
from meetbridge.web.pages import NO_STORE, message_page, render

log = structlog.get_logger(__name__)

COOKIE = "meetbridge_admin"
# "/" and not "/admin": the status page at "/" shows its details to signed-in admins only.
COOKIE_PATH = "/"
PER_PAGE = 50
MAX_FORM = 256 * 1024

_LABELS = {
    "pexip_node": "Pexip Infinity server",
    "webapp_path": "Web app path",
    "alias_prefix": "Alias prefix",
    "display_name": "Display name",
    "direct_media_dms": "Direct media for DMs",
    "embedded_experience": "Embedded experience",
    "show_notifications": "Show start/end notifications",
    "ringing_timeout": "Ringing timeout (seconds)",
    "allow_guests": "Allow guests",
    "crypto_mode": "Media encryption",
    "ivr_theme_name": "Theme",
    "conference_layout": "Layout",
    "enable_overlay_text": "Names over video",
    "enable_chat": "In-meeting chat",
    "livekit_url": "LiveKit URL",
    "livekit_api_key": "LiveKit API key",
    "livekit_max_participants": "Max participants",
    "recording_max_minutes": "Longest recording (minutes)",
    "recording_reminder_minutes": "Reminder before the limit (minutes)",
    "recording_min_free_mb": "Stop recording below this free disk space (MB)",
    "transcription_enabled": "Transcribe recordings",
    "transcription_language": "Transcript language (empty: detected)",
    "captions_language": "Live caption language (empty: detected)",
}
_SECRET_LABELS = {"livekit_api_secret": "LiveKit API secret"}


@dataclass(frozen=True)
class SettingGroup:
    """One engine's section of the settings form (or the general one)."""

    key: str
    title: str
    fields: tuple[str, ...]
    secrets: tuple[str, ...] = ()


_LIVEKIT_PREFIXES = ("livekit_", "recording_", "transcription_", "captions_")

# Settings no engine claims fall into "General", so a new setting is never left off the page.
_ENGINE_GROUPS = (
    SettingGroup(
        "pexip",
        "Pexip Infinity",
        (
            "pexip_node",
            "webapp_path",
            "alias_prefix",
            "direct_media_dms",
            "embedded_experience",
            "allow_guests",
            "crypto_mode",
            "ivr_theme_name",
            "conference_layout",
            "enable_overlay_text",
            "enable_chat",
        ),
    ),
    SettingGroup(
        "zoom",
        "Zoom",
        tuple(k for k in RuntimeSettings.model_fields if k.startswith("zoom_")),
        tuple(k for k in SECRET_SETTINGS if k.startswith("zoom_")),
    ),
    SettingGroup(
        "livekit",
        "LiveKit",
        tuple(k for k in RuntimeSettings.model_fields if k.startswith(_LIVEKIT_PREFIXES)),
        tuple(k for k in SECRET_SETTINGS if k.startswith("livekit_")),
    ),
)


def setting_groups() -> tuple[SettingGroup, ...]:
    """General settings first, then one group per engine."""
    claimed = {key for group in _ENGINE_GROUPS for key in (*group.fields, *group.secrets)}
    general = SettingGroup(
        "general",
        "General",
        tuple(k for k in RuntimeSettings.model_fields if k not in claimed),
        tuple(k for k in SECRET_SETTINGS if k not in claimed),
    )
    return (general, *_ENGINE_GROUPS)


@dataclass(frozen=True)
class FieldSpec:
    """One setting as a form control."""

    key: str
    label: str
    help: str
    kind: str  # "checkbox" | "select" | "number" | "text"
    value: Any
    options: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    error: str = ""


def settings_form(
    settings: RuntimeSettings, errors: dict[str, str] | None = None
) -> list[FieldSpec]:
    values = settings.model_dump(mode="json")
    return [
        _spec(key, info, values[key], (errors or {}).get(key, ""))
        for key, info in RuntimeSettings.model_fields.items()
    ]


def _spec(key: str, info: FieldInfo, value: Any, error: str) -> FieldSpec:
    annotation = info.annotation
    label, help_text = _LABELS.get(key, key.replace("_", " ").capitalize()), info.description or ""
    if annotation is bool:
        return FieldSpec(key, label, help_text, "checkbox", value, error=error)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return FieldSpec(
            key, label, help_text, "select", value, tuple(m.value for m in annotation), error=error
        )
    if typing.get_origin(annotation) is typing.Literal:
        return FieldSpec(
            key, label, help_text, "select", value, tuple(typing.get_args(annotation)), error=error
        )
    if annotation is int:
        bounds = {type(m).__name__: m for m in info.metadata}
        low = getattr(bounds.get("Ge"), "ge", None)
        high = getattr(bounds.get("Le"), "le", None)
        return FieldSpec(
            key, label, help_text, "number", value, minimum=low, maximum=high, error=error
        )
    return FieldSpec(key, label, help_text, "text", value, error=error)


Handler = Callable[[Request, AdminSession], Awaitable[Response]]


class AdminEndpoints:
    def __init__(
        self,
        config: ServiceConfig,
        console: AdminConsole,
        admin: AdminService,
        meetings: MeetingQueries,
        database: Database,
        catalogue: CatalogueSync | None,
        clock: Clock,
        identity: IdentityGate,
        zoom_webhook_url: Callable[[], Awaitable[str]] | None = None,
        livekit_reachability: Callable[[], Awaitable[str]] | None = None,
        guest_links: GuestLinks | None = None,
    ) -> None:
        self._guest_links = guest_links
        self._livekit_reachability = livekit_reachability
        self._identity = identity
        self._config = config
        self._console = console
        self._admin = admin
        self._meetings = meetings
        self._database = database
        self._catalogue = catalogue
        self._zoom_webhook_url_source = zoom_webhook_url
        self._clock = clock
        self._secure = config.effective_public_url.startswith("https://")
        origin = urlsplit(config.effective_public_url)
        self._origin = f"{origin.scheme}://{origin.netloc}"

    def routes(self) -> list[Route]:
        return [
            Route("/admin/login", self.login, methods=["GET"]),
            Route("/admin/logout", self._guard(self.logout), methods=["POST"]),
            Route("/admin", self._guard(self.overview), methods=["GET"]),
            Route("/admin/settings", self._guard(self.settings), methods=["GET", "POST"]),
            Route("/admin/pexip", self._guard(self.pexip), methods=["GET"]),
            Route("/admin/pexip/regenerate", self._guard(self.regenerate), methods=["GET", "POST"]),
            Route("/admin/channels", self._guard(self.channels), methods=["GET", "POST"]),
            Route("/admin/channels/refresh", self._guard(self.refresh_channels), methods=["POST"]),
            Route("/admin/meetings", self._guard(self.meetings_page), methods=["GET"]),
            Route("/admin/audit", self._guard(self.audit), methods=["GET"]),
            Route("/admin/guests", self._guard(self.guests), methods=["GET", "POST"]),
        ]

    # --- sign-in and the guard -------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            user_id = self._console.link_user(token)
        except ConsoleSignInError as exc:
            return message_page("Cannot open the admin console", str(exc), 403)
        unproven = await self._identity.require(request, user_id, ADMIN_PATH)
        if unproven is not None:
            return unproven
        try:
            signed_in = await self._console.sign_in(token, user_id)
        except ConsoleSignInError as exc:
            return message_page("Cannot open the admin console", str(exc), 403)
        response = RedirectResponse("/admin", status_code=303, headers=NO_STORE)
        response.set_cookie(
            COOKIE,
            signed_in.cookie,
            max_age=int(signed_in.session.expires_at - self._clock.now()),
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path=COOKIE_PATH,
        )
        return response

    def _guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                session = await self._console.session(request.cookies.get(COOKIE))
            except ConsoleAccessError as exc:
                refused = message_page("Cannot open the admin console", str(exc), exc.status)
                if exc.status == 403:
                    _end_session_cookie(refused)
                return refused
            if session is None:
                return message_page(
                    "Sign in to the admin console",
                    "Your session has ended or you are not signed in. Run /meet admin in "
                    "Mattermost for a new sign-in link.",
                    401,
                )
            if request.method == "POST":
                refusal = await self._check_post(request, session)
                if refusal is not None:
                    return refusal
            return await handler(request, session)

        return guarded

    async def _check_post(self, request: Request, session: AdminSession) -> Response | None:
        origin = request.headers.get("origin")
        if origin is not None and origin != self._origin:
            return message_page("Refused", "This change did not come from the admin console.", 403)
        body = await request.body()
        if len(body) > MAX_FORM:
            return message_page("Refused", "The form is too large.", 413)
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        request.state.form = form
        given = (form.get("csrf") or [""])[0]
        if not constant_time_equal(given, session.csrf_token):
            return message_page(
                "Refused",
                "The form expired or did not come from the admin console; reload it.",
                403,
            )
        return None

    def _page(
        self, template: str, session: AdminSession, status: int = 200, **context: Any
    ) -> Response:
        return render(
            template,
            status,
            # same-origin (not no-referrer): browsers then send our Origin with the forms' POSTs.
            headers={"Referrer-Policy": "same-origin"},
            csrf=session.csrf_token,
            user_id=session.user_id,
            policy_url=self._config.policy_base_url,
            event_sink_url=self._config.event_sink_url,
            **context,
        )

    async def logout(self, request: Request, session: AdminSession) -> Response:
        await self._console.sign_out(request.cookies.get(COOKIE, ""))
        response = message_page("Signed out", "You are signed out of the admin console.", 200)
        _end_session_cookie(response)
        return response

    # --- pages -----------------------------------------------------------------------------

    async def overview(self, request: Request, session: AdminSession) -> Response:
        overview = await self._meetings.overview(recent_limit=5)
        async with self._database.read() as conn:
            transcripts = await transcriptions_repo.counts(conn)
            recent_transcripts = await transcriptions_repo.recent(conn, 5)
        return self._page(
            "admin_overview.html",
            session,
            section="overview",
            in_progress=len(overview.in_progress),
            settings=await self._admin.settings(),
            transcripts=transcripts,
            recent_transcripts=recent_transcripts,
        )

    async def settings(self, request: Request, session: AdminSession) -> Response:
        if request.method == "GET":
            current = await self._admin.settings()
            saved = request.query_params.get("saved") == "1"
            return self._page(
                "admin_settings.html",
                session,
                saved=saved,
                **await self._settings_context(settings_form(current)),
            )
        form: dict[str, list[str]] = request.state.form
        changes = self._submitted_settings(form)
        secrets = {k: form[k][0] for k in SECRET_SETTINGS if form.get(k, [""])[0].strip()}
        try:
            for key, value in secrets.items():  # check before anything is stored
                checked_secret(key, value)
            await self._admin.change_settings(changes, f"admin:{session.user_id}")
            for key, value in secrets.items():
                await self._admin.set_secret(key, value, f"admin:{session.user_id}")
        except SettingError as exc:
            current = await self._admin.settings()
            fields = settings_form(current, {exc.key: str(exc)} if exc.key else {})
            # Show what the admin typed, not the stored value, next to the error.
            fields = [
                FieldSpec(**{**f.__dict__, "value": changes.get(f.key, f.value)}) for f in fields
            ]
            return self._page(
                "admin_settings.html",
                session,
                400,
                error=str(exc),
                **await self._settings_context(fields),
            )
        return RedirectResponse("/admin/settings?saved=1", status_code=303)

    async def _settings_context(self, fields: list[FieldSpec]) -> dict[str, Any]:
        by_key = {field.key: field for field in fields}
        secrets = {secret["key"]: secret for secret in await self._secret_fields()}
        groups = [
            {
                "key": group.key,
                "title": group.title,
                "fields": [by_key[key] for key in group.fields],
                "secrets": [secrets[key] for key in group.secrets],
            }
            for group in setting_groups()
        ]
        reachability = self._livekit_reachability
        return {
            "section": "settings",
            "groups": groups,
            "zoom_webhook_url": await self._zoom_webhook_url(),
            "livekit_reachability": await reachability() if reachability else "",
        }

    async def _zoom_webhook_url(self) -> str:
        return await (self._zoom_webhook_url_source or _no_url)()

    async def _secret_fields(self) -> list[dict[str, Any]]:
        stored = await self._admin.secrets_set()
        return [
            {
                "key": key,
                "label": _SECRET_LABELS.get(key, key.replace("_", " ").capitalize()),
                "help": text,
                "set": stored[key],
            }
            for key, text in SECRET_SETTINGS.items()
        ]

    @staticmethod
    def _submitted_settings(form: dict[str, list[str]]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for key, info in RuntimeSettings.model_fields.items():
            if info.annotation is bool:
                # Unticked checkboxes are not sent: the hidden "present" list says which were shown.
                if key in form.get("present", []):
                    changes[key] = key in form
            elif key in form:
                changes[key] = form[key][0]
        return changes

    async def pexip(self, request: Request, session: AdminSession) -> Response:
        credentials, first_look = await self._admin.credentials_to_reveal()
        return self._page(
            "admin_pexip.html",
            session,
            section="pexip",
            username=credentials.username,
            password=credentials.password if first_look else None,
            just_generated=False,
        )

    async def regenerate(self, request: Request, session: AdminSession) -> Response:
        if request.method == "GET":
            return self._page("admin_regenerate.html", session, section="pexip")
        form: dict[str, list[str]] = request.state.form
        if form.get("confirm") != ["yes"]:
            return RedirectResponse("/admin/pexip", status_code=303)
        fresh = await self._admin.regenerate_credentials(f"admin:{session.user_id}")
        await self._admin.mark_credentials_revealed(fresh)
        return self._page(
            "admin_pexip.html",
            session,
            section="pexip",
            username=fresh.username,
            password=fresh.password,
            just_generated=True,
        )

    async def channels(self, request: Request, session: AdminSession) -> Response:
        notice = ""
        if request.method == "POST":
            form: dict[str, list[str]] = request.state.form
            move = (form.get("move") or [""])[0]
            ids = [ChannelId(c) for c in form.get("channel", []) if is_mattermost_id(c)]
            if move in ("allow", "disallow") and ids:
                await self._admin.set_channels_allowed(
                    ids, move == "allow", f"admin:{session.user_id}"
                )
                notice = f"{len(ids)} channel{'s' if len(ids) != 1 else ''} {move}ed."
            query = {k: v[0] for k, v in form.items() if k in ("aq", "ap", "dq", "dp") and v}
            target = "/admin/channels" + (f"?{urlencode(query)}" if query else "")
            moved = RedirectResponse(target, status_code=303)
            if notice:
                moved.set_cookie(
                    "meetbridge_notice",
                    notice,
                    max_age=30,
                    path="/admin",
                    httponly=True,
                    samesite="lax",
                    secure=self._secure,
                )
            return moved
        params = request.query_params
        allowed_q, disallowed_q = params.get("aq", "").strip(), params.get("dq", "").strip()
        async with self._database.read() as conn:
            allowed = await admin_repo.catalogue_page(
                conn, False, allowed_q, _page_number(params.get("ap")), PER_PAGE
            )
            disallowed = await admin_repo.catalogue_page(
                conn, True, disallowed_q, _page_number(params.get("dp")), PER_PAGE
            )
            outside = await admin_repo.disallowed_outside_catalogue(conn)
        response = self._page(
            "admin_channels.html",
            session,
            section="channels",
            allowed=allowed,
            disallowed=disallowed,
            outside=outside,
            aq=allowed_q,
            dq=disallowed_q,
            notice=request.cookies.get("meetbridge_notice", ""),
            catalogue_available=self._catalogue is not None,
        )
        response.delete_cookie("meetbridge_notice", path="/admin")
        return response

    async def refresh_channels(self, request: Request, session: AdminSession) -> Response:
        if self._catalogue is not None:
            try:
                await self._catalogue.refresh()
            except MattermostError as exc:
                return message_page("Could not refresh", f"Mattermost did not answer: {exc}", 502)
        return RedirectResponse("/admin/channels", status_code=303)

    async def meetings_page(self, request: Request, session: AdminSession) -> Response:
        page = _page_number(request.query_params.get("page"))
        overview = await self._meetings.overview(recent_limit=0)
        history = await self._meetings.history(page, PER_PAGE)
        channel_ids = [m.channel_id for m in overview.in_progress + history.meetings]
        async with self._database.read() as conn:
            names = await admin_repo.catalogue_names(conn, channel_ids)
        now = self._clock.now()
        return self._page(
            "admin_meetings.html",
            session,
            section="meetings",
            in_progress=[
                {
                    "channel": _channel_label(m.channel_id, names),
                    "started_at": m.started_at,
                    "running": describe_duration(now - m.started_at),
                    "people": [p.display_name for p in m.participants()],
                }
                for m in overview.in_progress
            ],
            recent=[
                {
                    "channel": _channel_label(m.channel_id, names),
                    "started_at": m.started_at,
                    "duration": describe_duration(m.duration or 0.0),
                    "attendance": [
                        a.display_name
                        for a in sorted(m.attendees.values(), key=lambda a: a.first_joined_at)
                    ],
                    "recordings": [
                        self._recording_entry(r) for r in history.recordings.get(m.id or -1, [])
                    ],
                }
                for m in history.meetings
            ],
            page=page,
            has_next=history.has_next,
        )

    def _recording_entry(self, row: recordings_repo.RecordingRow) -> dict[str, str]:
        mattermost = self._config.mattermost_public_url or self._config.mattermost_url
        posted = is_mattermost_id(row.post_id)  # anything else gets no link
        return {
            "state": history_state(row.state, row.incomplete, posted),
            "length": describe_length(row.seconds) if row.seconds is not None else "",
            "size": describe_size(row.size_bytes) if row.size_bytes is not None else "",
            # Mattermost's own redirect finds the post's team: the console does not know it.
            "link": f"{mattermost}/_redirect/pl/{row.post_id}" if posted and mattermost else "",
        }

    async def audit(self, request: Request, session: AdminSession) -> Response:
        page = _page_number(request.query_params.get("page"))
        entries = await self._admin.audit(PER_PAGE + 1, (page - 1) * PER_PAGE)
        return self._page(
            "admin_audit.html",
            session,
            section="audit",
            entries=entries[:PER_PAGE],
            page=page,
            has_next=len(entries) > PER_PAGE,
        )

    async def guests(self, request: Request, session: AdminSession) -> Response:
        """Guest links in force, each revocable: the link stops at once, the channel's guest
        PIN is replaced, and its guests are removed from the meeting if the admin ticks so."""
        notice = ""
        if request.method == "POST" and self._guest_links is not None:
            form: dict[str, list[str]] = request.state.form
            link_id = (form.get("link") or [""])[0]
            remove = (form.get("remove_guests") or [""])[0] == "yes"
            outcome = await self._guest_links.revoke(link_id, f"admin:{session.user_id}", remove)
            notice = _revocation_notice(outcome.revoked, remove, outcome.removed)
        links = await self._guest_links.active() if self._guest_links is not None else []
        async with self._database.read() as conn:
            names = await admin_repo.catalogue_names(conn, [link.channel_id for link in links])
        return self._page(
            "admin_guests.html",
            session,
            section="guests",
            notice=notice,
            links=[
                {
                    "id": link.id,
                    "channel": _channel_label(link.channel_id, names),
                    "created_at": link.created_at,
                    "expires_at": link.expires_at,
                    "created_by": link.created_by,
                }
                for link in links
            ],
        )


def _revocation_notice(revoked: bool, asked_to_remove: bool, removed: int) -> str:
    if not revoked:
        return "That link was not in force."
    notice = "The guest link was revoked and the channel's guest PIN changed."
    if asked_to_remove:
        guests = "1 guest" if removed == 1 else f"{removed} guests"
        notice += f" {guests} who came through it left the meeting."
    return notice


def _end_session_cookie(response: Response) -> None:
    """Delete the session cookie, and the one older versions set on /admin only."""
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    response.delete_cookie(COOKIE, path="/admin")


async def _no_url() -> str:
    return ""


def _page_number(raw: str | None) -> int:
    # isdigit() alone lets "²" and 5,000-digit strings through to int(), which raises.
    if not raw or len(raw) > 5 or not raw.isascii() or not raw.isdigit():
        return 1
    return int(raw) if 0 < int(raw) < 100_000 else 1


def _channel_label(channel_id: str, names: dict[str, admin_repo.CatalogueEntry]) -> str:
    entry = names.get(channel_id)
    if entry is None:
        return channel_id
    return f"{entry.label} ({entry.team_name})" if entry.team_name else entry.label
