"""Zoom meetings started from Mattermost channels.

Connections: with a user-level OAuth app each user connects their own Zoom account (the
authorization-code flow, with a state bound to the user, the channel and the browser, valid for
ten minutes); with an account-level app an admin connects once and users are matched by their
Mattermost email. Tokens are refreshed before use and kept sealed with AES-GCM under a key
meetbridge generates for Zoom alone; regenerating that key drops every stored connection.

Webhooks update the meeting cards (started, ended and how long it lasted) and post recording
and transcript links in the card's thread.
"""

from __future__ import annotations

import asyncio
import base64
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx2
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox, decode_master_key, generate_master_key
from meetbridge.domain.channels import ChannelKind
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.domain.markdown import escape_markdown, safe_link_target
from meetbridge.domain.oauth import OAuthTokens
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.engines.zoom.api import (
    DEFAULT_ZOOM_URL,
    ZoomApi,
    ZoomApiError,
    ZoomAuthError,
    ZoomRateLimitedError,
    ZoomUnavailableError,
)
from meetbridge.engines.zoom.cards import ZOOM_CARD, ZOOM_REPLY
from meetbridge.engines.zoom.webhooks import WINDOW as WEBHOOK_WINDOW
from meetbridge.ports import Directory, DirectoryUnavailableError
from meetbridge.services.join import JoinRefusedError, JoinService
from meetbridge.services.shared_state import SharedState
from meetbridge.store import audit_repo, chat_repo, outbox_repo, zoom_repo
from meetbridge.store.database import Database
from meetbridge.store.zoom_repo import ACCOUNT, ZoomConnection, ZoomMeeting

log = structlog.get_logger(__name__)

KEY_RECORD = "zoom_token_key"
WEBHOOK_RECORD = "zoom_webhook_url_secret"
STATE_PURPOSE = "zoom-oauth"
STATE_LIFETIME = 10 * 60.0
JOIN_PURPOSE = "zoom-join"
RECENT_WINDOW = 30.0
REFRESH_MARGIN = 120.0
REFRESH_LEASE = 30.0  # a claim to refresh outlives the token request (10 s timeout)
REFRESH_POLL = 0.1  # how often a replica waiting for another's refresh looks again
RECEIPT_KEEP = 2 * WEBHOOK_WINDOW  # a signature stays valid for at most twice the window
PMI_PREFERENCE = "zoom_pmi"
DEFAULT_TOPIC = "Zoom Meeting"


class Outcome(StrEnum):
    STARTED = "started"
    CONNECT = "connect"
    ASK_PMI = "ask_pmi"
    RECENT = "recent"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class StartResult:
    outcome: Outcome
    text: str
    url: str = ""  # the join link (started, recent) or the connect link
    topic: str = ""
    meeting_row: int | None = None  # the meeting the join link leads to (started, recent)


class ZoomNeedsConnectionError(Exception):
    pass


class ZoomConnectRefusedError(Exception):
    """This user may not store this Zoom grant; the message is safe to show."""


class ZoomJoinRefusedError(Exception):
    """This Zoom meeting link does not lead anywhere (any more); the message is safe to show."""


ONLY_ADMINS_CONNECT = "Only system admins can connect the Zoom account-level app."


class PmiPreference(StrEnum):
    PERSONAL = "personal"
    NEW = "new"
    ASK = "ask"


class ZoomService:
    def __init__(
        self,
        database: Database,
        master_box: SecretBox,
        state: SharedState,
        directory: Directory,
        join: JoinService,
        http: httpx2.AsyncClient,
        links: TokenCodec,
        clock: Clock,
        public_url: str,
    ) -> None:
        self._database = database
        self._master_box = master_box
        self._state = state
        self._directory = directory
        self._join = join
        self._http = http
        self._links = links
        self._clock = clock
        self._public_url = public_url
        self._refreshing: dict[str, asyncio.Lock] = {}
        self._path_secret: str | None = None

    async def close(self) -> None:
        await self._http.aclose()

    # --- configuration ------------------------------------------------------------------

    @property
    def callback_url(self) -> str:
        return f"{self._public_url}/zoom/oauth/callback"

    @property
    def account_level(self) -> bool:
        return self._state.settings.zoom_account_level

    def configured(self) -> bool:
        return bool(
            self._state.settings.zoom_client_id and self._state.secrets.get("zoom_client_secret")
        )

    def api(self) -> ZoomApi:
        settings = self._state.settings
        return ZoomApi(
            self._http,
            settings.zoom_url,
            settings.zoom_api_url,
            settings.zoom_client_id,
            self._state.secrets.get("zoom_client_secret", ""),
        )

    async def token_box(self) -> SecretBox:
        return await token_box(self._database, self._master_box, self._clock)

    async def webhook_url(self) -> str:
        return await webhook_url(self._database, self._master_box, self._clock, self._public_url)

    async def webhook_path_secret(self) -> str:
        # Generated once and never replaced: read it once, not on every webhook.
        if self._path_secret is None:
            self._path_secret = await _secret_record(
                self._database, self._master_box, self._clock, WEBHOOK_RECORD, _new_path_secret
            )
        return self._path_secret

    # --- connecting -------------------------------------------------------------------

    def connect_link(
        self, user_id: UserId, channel_id: ChannelId | None, topic: str = "", start: bool = False
    ) -> str:
        claims = {
            "u": user_id,
            "c": channel_id or "",
            "t": topic[:200],
            "s": start,
            "n": secrets.token_urlsafe(12),
        }
        token = self._links.encode(STATE_PURPOSE, claims, self._clock.now(), STATE_LIFETIME)
        return f"{self._public_url}/zoom/oauth/start?state={token}"

    def read_state(self, token: str) -> dict[str, Any]:
        return self._links.decode(token, STATE_PURPOSE, self._clock.now())

    @staticmethod
    def state_user(claims: dict[str, Any]) -> UserId | None:
        """The Mattermost user a connect link was made for (the web layer confirms it is the
        one at the browser before and after Zoom)."""
        user_id = claims.get("u")
        return UserId(user_id) if isinstance(user_id, str) and is_mattermost_id(user_id) else None

    async def connect_refusal(self, user_id: UserId) -> str:
        """Why this user may not connect now ("" if they may): an account-level grant serves
        everyone, so only a system admin (asked of Mattermost now) may store one."""
        if not self._state.settings.zoom_account_level:
            return ""
        try:
            user = await self._directory.user_now(user_id)
        except DirectoryUnavailableError:
            return "Mattermost cannot be reached to confirm your role; try again in a moment."
        return "" if user is not None and user.is_system_admin else ONLY_ADMINS_CONNECT

    async def complete_connection(self, claims: dict[str, Any], code: str) -> StartResult:
        """Finish the OAuth flow for the user the state names (the caller has confirmed that
        user is at the browser); then start the meeting they asked for, if they were
        connecting on the way to one. Raises ZoomConnectRefusedError before storing anything
        the user may not store."""
        user_id = self.state_user(claims)
        if user_id is None:
            raise ZoomConnectRefusedError("This connection link is not valid.")
        refusal = await self.connect_refusal(user_id)
        if refusal:
            raise ZoomConnectRefusedError(refusal)
        api = self.api()
        now = self._clock.now()
        tokens = await api.exchange_code(code, self.callback_url, now)
        zoom_user = await api.me(tokens.access_token)
        owner = ACCOUNT if self._state.settings.zoom_account_level else user_id
        connection = ZoomConnection(
            owner,
            str(zoom_user.get("id", "")),
            str(zoom_user.get("email", "")),
            _pmi(zoom_user),
            tokens,
        )
        box = await self.token_box()  # before the transaction: it may write the key itself
        async with self._database.transaction() as conn:
            await zoom_repo.save_connection(conn, box, connection, now)
            await audit_repo.record(
                conn, f"mattermost:{user_id}", "zoom.connected", {"owner": owner}, now
            )
        if claims.get("s") and claims.get("c"):
            # No buttons on the browser page the flow ends on: without a preference, a new ID.
            preference = await self.pmi_preference(user_id)
            use_pmi = preference is PmiPreference.PERSONAL
            return await self.start(
                user_id, ChannelId(str(claims["c"])), str(claims.get("t", "")), use_pmi
            )
        return StartResult(Outcome.STARTED, "Your Zoom account is connected.")

    async def disconnect(self, user_id: UserId, is_admin: bool) -> str:
        owner = ACCOUNT if self._state.settings.zoom_account_level else user_id
        if owner == ACCOUNT and not is_admin:
            return "Only system admins can disconnect the Zoom account-level app."
        async with self._database.transaction() as conn:
            removed = await zoom_repo.delete_connection(conn, owner)
            await audit_repo.record(
                conn,
                f"mattermost:{user_id}",
                "zoom.disconnected",
                {"owner": owner},
                self._clock.now(),
            )
        return "Your Zoom account is disconnected." if removed else "No Zoom account was connected."

    # --- preferences ------------------------------------------------------------------

    async def pmi_preference(self, user_id: UserId) -> PmiPreference | None:
        async with self._database.read() as conn:
            value = await zoom_repo.preference(conn, user_id, PMI_PREFERENCE)
        known = {p.value for p in PmiPreference}
        return PmiPreference(value) if value in known else None

    async def set_pmi_preference(self, user_id: UserId, preference: PmiPreference) -> None:
        async with self._database.transaction() as conn:
            await zoom_repo.set_preference(conn, user_id, PMI_PREFERENCE, preference.value)

    # --- starting ---------------------------------------------------------------------

    async def start(
        self,
        user_id: UserId,
        channel_id: ChannelId,
        topic: str = "",
        use_pmi: bool | None = None,
        force: bool = False,
    ) -> StartResult:
        topic = topic.strip() or DEFAULT_TOPIC
        if not self.configured():
            return StartResult(
                Outcome.REFUSED, "Zoom is not configured on meetbridge yet; ask an admin."
            )
        try:
            channel = await self._join.check(channel_id, user_id)
        except JoinRefusedError as refused:
            return StartResult(Outcome.REFUSED, refused.detail)
        if (
            channel.kind is ChannelKind.PUBLIC
            and self._state.settings.zoom_restrict_public_channels
        ):
            return StartResult(
                Outcome.REFUSED, "Starting Zoom meetings is disabled in public channels."
            )
        if not force:
            async with self._database.read() as conn:
                recent = await zoom_repo.recent_in_channel(
                    conn, channel_id, self._clock.now() - RECENT_WINDOW
                )
            if recent is not None:
                return StartResult(
                    Outcome.RECENT,
                    "A Zoom meeting was started in this channel moments ago.",
                    recent.join_url,
                    topic,
                    recent.id,
                )
        try:
            await self._connection(user_id)  # connecting comes before any question
        except ZoomNeedsConnectionError as needs:
            link = self.connect_link(user_id, channel_id, topic, start=True)
            return StartResult(Outcome.CONNECT, str(needs), link, topic)
        if use_pmi is None:
            preference = await self.pmi_preference(user_id)
            if preference in (None, PmiPreference.ASK):
                return StartResult(
                    Outcome.ASK_PMI, "Which meeting ID would you like to use?", topic=topic
                )
            use_pmi = preference is PmiPreference.PERSONAL
        try:
            return await self._create(user_id, channel_id, topic, use_pmi)
        except ZoomNeedsConnectionError as needs:
            return StartResult(
                Outcome.CONNECT,
                str(needs),
                self.connect_link(user_id, channel_id, topic, start=True),
                topic,
            )
        except ZoomRateLimitedError as exc:
            return StartResult(
                Outcome.REFUSED, f"Zoom is busy; try again in {math.ceil(exc.retry_after)} seconds."
            )
        except ZoomUnavailableError:
            return StartResult(
                Outcome.REFUSED, "Zoom cannot be reached right now; try again in a moment."
            )
        except ZoomApiError as exc:
            log.warning("zoom.refused", status=exc.status, code=exc.code)
            return StartResult(
                Outcome.REFUSED, f"Zoom refused to create the meeting ({exc.status})."
            )

    async def _create(
        self, user_id: UserId, channel_id: ChannelId, topic: str, use_pmi: bool
    ) -> StartResult:
        api = self.api()
        host, pmi = await self._host(user_id, api)
        note = ""
        if use_pmi and pmi:
            meeting = await self._call(user_id, api, lambda token: api.meeting(token, str(pmi)))
            meeting_id, personal = str(pmi), True
        else:
            if use_pmi:
                note = " (Your Zoom account has no personal meeting ID, so this is a new one.)"
            meeting = await self._call(
                user_id, api, lambda token: api.create_meeting(token, host, topic)
            )
            meeting_id, personal = str(meeting["id"]), False
        join_url = safe_link_target(
            str(meeting.get("join_url") or f"{api.zoom_url}/j/{meeting_id}"), api.zoom_url
        )
        if join_url is None:
            # A join link off Zoom's host would be posted as the bot's link: refuse it.
            log.warning("zoom.foreign_join_url", meeting_id=meeting_id)
            return StartResult(Outcome.REFUSED, "Zoom returned a join link meetbridge cannot use.")
        now = self._clock.now()
        async with self._database.transaction() as conn:
            row_id = await zoom_repo.add_meeting(
                conn,
                channel_id=channel_id,
                meeting_id=meeting_id,
                uuid=str(meeting.get("uuid", "")),
                join_url=join_url,
                topic=topic,
                creator_id=user_id,
                personal=personal,
                created_at=now,
            )
            await outbox_repo.enqueue(
                conn, ZOOM_CARD, {"row_id": row_id}, now, f"zoom-card:{row_id}"
            )
        return StartResult(
            Outcome.STARTED, f"Your Zoom meeting is ready{note}.", join_url, topic, row_id
        )

    async def _host(self, user_id: UserId, api: ZoomApi) -> tuple[str, int | None]:
        """Whom the meeting is created for: "me" (user-level) or the user's Zoom email."""
        if not self._state.settings.zoom_account_level:
            connection = await self._connection(user_id)
            return "me", connection.pmi
        try:
            user = await self._directory.user(user_id)
        except DirectoryUnavailableError as exc:
            raise ZoomUnavailableError("Mattermost cannot be reached") from exc
        email = user.email if user is not None else ""
        try:
            zoom_user = await self._call(user_id, api, lambda token: api.user(token, email))
        except ZoomApiError as exc:
            if exc.status == 404 or not email:
                raise ZoomApiError(404, exc.code, "no Zoom user with this email") from exc
            raise
        return email, _pmi(zoom_user)

    async def _connection(self, user_id: UserId) -> ZoomConnection:
        owner = ACCOUNT if self._state.settings.zoom_account_level else user_id
        box = await self.token_box()
        async with self._database.read() as conn:
            connection = await zoom_repo.connection(conn, box, owner)
        if connection is None:
            raise _not_connected(owner)
        return connection

    async def _call(self, user_id: UserId, api: ZoomApi, request: Any) -> dict[str, Any]:
        """Run an API request with a fresh token; on 401, refresh once and try again."""
        owner = (await self._connection(user_id)).owner
        connection = await self._fresh(owner, api)
        try:
            result: dict[str, Any] = await request(connection.tokens.access_token)
        except ZoomAuthError:
            connection = await self._fresh(owner, api, spent=connection.tokens.access_token)
            result = await request(connection.tokens.access_token)
        return result

    async def _fresh(self, owner: str, api: ZoomApi, spent: str | None = None) -> ZoomConnection:
        """The connection with a usable access token (not ``spent``, which Zoom refused).

        One refresh at a time per connection: in this process through a lock, across replicas
        through a claim on the database row (Zoom rotates refresh tokens, so a second refresh
        with the same token would fail and look like a revoked grant).
        """
        lock = self._refreshing.setdefault(owner, asyncio.Lock())
        async with lock:
            box = await self.token_box()
            async with self._database.read() as conn:  # the usual case: no write, no claim
                current = await zoom_repo.connection(conn, box, owner)
            if current is not None and not _needs_refresh(current, self._clock.now(), spent):
                return current
            waited_until = time.monotonic() + REFRESH_LEASE
            while True:
                claim = secrets.token_hex(16)
                now = self._clock.now()
                async with self._database.transaction() as conn:
                    current = await zoom_repo.connection(conn, box, owner, for_update=True)
                    if current is None:
                        raise _not_connected(owner)
                    if not _needs_refresh(current, now, spent):
                        return current  # fresh, or another replica has just refreshed it
                    claimed = await zoom_repo.claim_refresh(conn, owner, claim, now, REFRESH_LEASE)
                if claimed:
                    return await self._refresh(current, api, box, claim)
                if time.monotonic() > waited_until:
                    raise ZoomUnavailableError("another replica is still refreshing the tokens")
                await asyncio.sleep(REFRESH_POLL)

    async def _refresh(
        self, connection: ZoomConnection, api: ZoomApi, box: SecretBox, claim: str
    ) -> ZoomConnection:
        """Refresh while holding the claim; a refused refresh token drops the connection."""
        owner = connection.owner
        try:
            tokens = await api.refresh(connection.tokens.refresh_token, self._clock.now())
        except (ZoomAuthError, ZoomApiError) as exc:
            async with self._database.transaction() as conn:
                await zoom_repo.delete_claimed(conn, owner, claim)
            raise ZoomNeedsConnectionError(
                "Your Zoom connection has expired; connect again."
            ) from exc
        except Exception:
            async with self._database.transaction() as conn:  # Zoom unreachable: let others try
                await zoom_repo.release_refresh(conn, owner, claim)
            raise
        refreshed = ZoomConnection(
            owner,
            connection.zoom_user_id,
            connection.zoom_email,
            connection.pmi,
            OAuthTokens(
                tokens.access_token,
                tokens.refresh_token or connection.tokens.refresh_token,
                tokens.expires_at,
            ),
        )
        async with self._database.transaction() as conn:
            await zoom_repo.save_refreshed(conn, box, refreshed, claim, self._clock.now())
        return refreshed

    # --- webhooks ---------------------------------------------------------------------

    async def receive_event(
        self, signature: str, event: str, payload: dict[str, Any], now: float
    ) -> bool:
        """Apply a verified webhook once; False when its signature was seen before (a replay).

        The receipt and the effect commit in one transaction: if applying fails, nothing is
        remembered and Zoom's retry of the same request is applied.
        """
        async with self._database.transaction() as conn:
            if not await zoom_repo.first_receipt(conn, signature, now, keep=RECEIPT_KEEP):
                return False
            await self._apply_event(conn, event, payload, now)
        return True

    async def _apply_event(
        self, conn: AsyncConnection, event: str, payload: dict[str, Any], now: float
    ) -> None:
        """Record what a verified webhook says, and queue the Mattermost changes it implies."""
        meeting_object = payload.get("object") if isinstance(payload.get("object"), dict) else {}
        assert isinstance(meeting_object, dict)
        zoom_id = str(meeting_object.get("id", ""))
        if not zoom_id:
            return
        meeting = await zoom_repo.latest_for_zoom_id(conn, zoom_id)
        if meeting is None:
            return
        if event == "meeting.started":
            started = _epoch(meeting_object.get("start_time")) or now
            await zoom_repo.update_meeting(conn, meeting.id, started_at=started)
            await outbox_repo.enqueue(
                conn, ZOOM_CARD, {"row_id": meeting.id}, now, f"zoom-card:{meeting.id}"
            )
        elif event == "meeting.ended" and meeting.ended_at is None:
            ended = _epoch(meeting_object.get("end_time")) or now
            started = (
                meeting.started_at or _epoch(meeting_object.get("start_time")) or meeting.created_at
            )
            minutes = math.ceil(max(0.0, ended - started) / 60)
            await zoom_repo.update_meeting(
                conn, meeting.id, ended_at=ended, duration_minutes=minutes
            )
            await outbox_repo.enqueue(
                conn, ZOOM_CARD, {"row_id": meeting.id}, now, f"zoom-card:{meeting.id}"
            )
        elif event in ("recording.completed", "recording.transcript_completed"):
            message = self._recording_message(event, meeting_object)
            if message:
                key = f"{event}:{meeting.id}:{meeting_object.get('uuid', '')}"
                await outbox_repo.enqueue(
                    conn,
                    ZOOM_REPLY,
                    {"row_id": meeting.id, "message": message, "key": key},
                    now,
                    key,
                )

    def _recording_message(self, event: str, recording: dict[str, Any]) -> str:
        files = [f for f in recording.get("recording_files") or [] if isinstance(f, dict)]
        if event == "recording.transcript_completed":
            links = [
                f.get("play_url") or f.get("download_url")
                for f in files
                if f.get("recording_type") == "audio_transcript"
                or f.get("file_type") == "TRANSCRIPT"
            ]
            links = [link for link in map(self.zoom_link, links) if link]
            return f"Here's the Zoom meeting transcript: [Transcript]({links[-1]})" if links else ""
        videos = [
            link
            for link in (
                self.zoom_link(f.get("play_url")) for f in files if f.get("file_type") == "MP4"
            )
            if link
        ]
        if not videos:
            return ""
        lines = ["Here's the Zoom meeting recording:"]
        lines += [f"**Link:** [Meeting Recording]({url})" for url in videos]
        password = recording.get("password")
        if password and self._state.settings.zoom_post_recording_password:
            lines.append(f"**Password:** {escape_markdown(str(password))}")
        return "\n".join(lines)

    # --- personal meeting links ---------------------------------------------------------

    def join_link(self, user_id: UserId, row_id: int) -> str:
        """A personal link to a Zoom meeting, for replies in Mattermost: it names the meeting,
        not its Zoom URL (which would let whoever reads the reply in), and the web layer opens
        it only for ``user_id``, as Mattermost confirms."""
        token = self._links.encode(
            JOIN_PURPOSE, {"u": user_id, "m": row_id}, self._clock.now(), STATE_LIFETIME
        )
        return f"{self._public_url}/zoom/join/{token}"

    def read_join_link(self, token: str) -> tuple[UserId, int]:
        """Whom a meeting link is for and which meeting; raises TokenError for a bad link."""
        claims = self._links.decode(token, JOIN_PURPOSE, self._clock.now())
        user_id, row_id = self.state_user(claims), claims.get("m")
        if user_id is None or not isinstance(row_id, int) or isinstance(row_id, bool):
            raise TokenError("this link is not valid")
        return user_id, row_id

    async def join_url(self, user_id: UserId, row_id: int) -> str:
        """Zoom's URL for a meeting in progress, if the user may still join it."""
        meeting = await self.meeting(row_id)
        if meeting is None or meeting.ended_at is not None:
            raise ZoomJoinRefusedError("This Zoom meeting has ended.")
        try:
            await self._join.check(ChannelId(meeting.channel_id), user_id)
        except JoinRefusedError as refused:
            raise ZoomJoinRefusedError(refused.detail) from refused
        return meeting.join_url

    def zoom_link(self, url: object) -> str | None:
        """``url`` if it is a link to the configured Zoom (what meetbridge may post as a link)."""
        base = self._state.settings.zoom_url or DEFAULT_ZOOM_URL
        return safe_link_target(url, base) if isinstance(url, str) else None

    async def meeting(self, row_id: int) -> ZoomMeeting | None:
        async with self._database.read() as conn:
            return await zoom_repo.meeting(conn, row_id)


async def _secret_record(
    database: Database, box: SecretBox, clock: Clock, name: str, make: Any
) -> str:
    """A value meetbridge generates once and keeps sealed (the token key, the URL secret)."""
    async with database.transaction() as conn:
        value = await chat_repo.get_secret(conn, box, name)
        if value is None:
            value = str(make())
            await chat_repo.put_secret(conn, box, name, value, clock.now())
    return value


def _new_key() -> str:
    return base64.b64encode(generate_master_key()).decode()


def _new_path_secret() -> str:
    return secrets.token_urlsafe(24)


async def token_box(database: Database, box: SecretBox, clock: Clock) -> SecretBox:
    """The key Zoom tokens are sealed with (generated on first use)."""
    return SecretBox(
        decode_master_key(await _secret_record(database, box, clock, KEY_RECORD, _new_key))
    )


async def webhook_url(database: Database, box: SecretBox, clock: Clock, public_url: str) -> str:
    """What to paste into the Zoom app's event subscription."""
    secret = await _secret_record(database, box, clock, WEBHOOK_RECORD, _new_path_secret)
    return f"{public_url}/api/zoom/webhook?secret={secret}"


async def regenerate_key(database: Database, box: SecretBox, clock: Clock, actor: str) -> int:
    """A new token key: every stored Zoom connection becomes unreadable and is dropped."""
    async with database.transaction() as conn:
        dropped = await zoom_repo.delete_all_connections(conn)
        now = clock.now()
        await chat_repo.put_secret(conn, box, KEY_RECORD, _new_key(), now)
        await audit_repo.record(
            conn, actor, "zoom.key_regenerated", {"connections_dropped": dropped}, now
        )
    return dropped


def _not_connected(owner: str) -> ZoomNeedsConnectionError:
    if owner == ACCOUNT:
        return ZoomNeedsConnectionError(
            "The Zoom app is not connected: a system admin must run /meet connect."
        )
    return ZoomNeedsConnectionError("Connect your Zoom account first.")


def _needs_refresh(connection: ZoomConnection, now: float, spent: str | None) -> bool:
    tokens = connection.tokens
    return tokens.expires_at - REFRESH_MARGIN <= now or tokens.access_token == spent


def _pmi(zoom_user: dict[str, Any]) -> int | None:
    pmi = zoom_user.get("pmi")
    return int(pmi) if isinstance(pmi, int | str) and str(pmi).isdigit() and int(pmi) > 0 else None


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
