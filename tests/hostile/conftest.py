"""The world the hostile-input suite attacks: one meetbridge per test module, fully configured,
with valid credentials of every kind at hand so that strategies can get past each check and
attack the next one (valid Basic auth with a hostile body, a valid command token with hostile
fields, a valid admin session and CSRF token with hostile form fields, ...).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import orjson
import pytest
from hypothesis import HealthCheck, settings

from meetbridge.chat.mattermost.setup import OAUTH_APP_RECORD
from meetbridge.config import ServiceConfig
from meetbridge.crypto import generate_master_key
from meetbridge.domain.aliases import alias_for_channel, service_tag_for_channel
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.services.confirmations import Claim
from meetbridge.store import chat_repo
from meetbridge.web import identity
from meetbridge.web.app import create_app
from meetbridge.web.identity import (
    FLOW_LIFETIME,
    FLOW_PURPOSE,
    IDENTITY_COOKIE,
    IDENTITY_LIFETIME,
    IDENTITY_PURPOSE,
    STATE_PURPOSE,
)
from tests.hostile.harness import Harness, Header
from tests.support.mattermost_standin import MattermostStandIn, new_id
from tests.support.postgres import PostgresServer
from tests.support.zoom import ZoomSimulator

ZOOM_SECRET_TOKEN = "zoom-webhook-secret-token"
METRICS_TOKEN = "metrics-bearer-token"

# Examples per property: enough to find the known holes in a few seconds each, small enough for
# the CI budget. HOSTILE_EXAMPLES raises it for a long local hunt. Failing examples are kept in
# .hypothesis/ and replayed first next time; the seed is printed on failure.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A failing example with a 70 kB string has a huge repr; Hypothesis warns about it, and
    # filterwarnings=error would then hide the real failure behind that warning.
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.filterwarnings("ignore:Generating overly large repr"))


@dataclass
class SignInMattermost(MattermostStandIn):
    """The REST stand-in plus Mattermost's OAuth provider: a code names the user it signs in."""

    codes: dict[str, str] = field(default_factory=dict)
    bot_id: str = field(default_factory=new_id)

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth/access_token":
            form = parse_qs(request.content.decode())
            user = self.codes.get((form.get("code") or [""])[0])
            if user is None:
                return httpx2.Response(400, json={"error": "invalid_grant"})
            return httpx2.Response(200, json={"access_token": f"at-{user}"})
        signed_in = request.headers.get("authorization", "").startswith("Bearer at-")
        if request.url.path == "/api/v4/users/me" and not signed_in:  # the bot itself
            return httpx2.Response(200, json={"id": self.bot_id, "username": "meetbridge"})
        if request.url.path == "/api/v4/commands":  # the command look-up of command_auth.py
            self.requests.append(f"{request.method} {request.url.path}")
            return httpx2.Response(200, json=[])
        if request.url.path == "/api/v4/users/me":
            user = request.headers.get("authorization", "").removeprefix("Bearer at-")
            if user in self.users:
                return httpx2.Response(200, content=orjson.dumps(self.users[user]))
            return httpx2.Response(401, json={"message": "Invalid or expired session"})
        return await super()._handle(request)


@dataclass(frozen=True)
class SignIn:
    """An OAuth round trip under way in a browser: the ``state`` meetbridge sent to the provider,
    the browser-bound cookie the callback must carry, and any other cookie the callback needs
    (the Zoom callback also wants the Mattermost identity of the link's user)."""

    state: str
    cookie_name: str
    cookie_value: str
    other_cookies: str = ""

    def cookie(self, value: str | None = None) -> bytes:
        """The Cookie header with the flow cookie (``value`` replaces its value)."""
        own = f"{self.cookie_name}={self.cookie_value if value is None else value}"
        return "; ".join(c for c in (own, self.other_cookies) if c).encode()


@dataclass
class World:
    harness: Harness
    mattermost: SignInMattermost
    zoom_sim: ZoomSimulator
    team_id: str
    command_token: str
    channel_id: str
    member_id: str
    admin_id: str
    outsider_id: str
    webhook_secret: str
    oauth_code: str  # signs the member in with Mattermost

    @property
    def components(self) -> Any:
        return self.harness.components

    def pexip_authorization(self) -> bytes:
        creds = self.components.state.credentials  # read each time: a test may regenerate them
        return b"Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode())

    def alias(self) -> str:
        return alias_for_channel(
            self.components.state.settings.alias_prefix, ChannelId(self.channel_id)
        )

    def service_tag(self) -> str:
        return service_tag_for_channel(ChannelId(self.channel_id))

    def call_tag(self) -> str:
        return make_call_tag(
            self.components.core.call_tags, ChannelId(self.channel_id), UserId(self.member_id)
        )

    def join_token(self) -> str:
        url: str = self.harness.run(
            self.components.join.issue(ChannelId(self.channel_id), UserId(self.member_id))
        )
        return url.rsplit("/", 1)[1]

    def admin_session(self) -> tuple[str, str]:
        """A signed-in admin's cookie and CSRF token (a new session if a test logged out)."""
        console = self.components.console
        token = console.login_link_token(UserId(self.admin_id))
        signed_in = self.harness.run(console.sign_in(token, UserId(self.admin_id)))
        return signed_in.cookie, signed_in.session.csrf_token

    def identity_cookie(self, user_id: str | None = None) -> str:
        """The Cookie pair Mattermost's sign-in leaves for ``user_id`` (the member by default),
        so that hostile input to /join, /admin/login and /zoom reaches the checks behind it."""
        core = self.components.core
        token = core.links.encode(
            IDENTITY_PURPOSE, {"u": user_id or self.member_id}, core.clock.now(), IDENTITY_LIFETIME
        )
        return f"{IDENTITY_COOKIE}={token}"

    def identity_header(self, user_id: str | None = None) -> Header:
        return (b"cookie", self.identity_cookie(user_id).encode())

    def mattermost_oauth_state(
        self, channel_id: str | None = None, return_to: str = "", expected_user: str = ""
    ) -> SignIn:
        """A Mattermost sign-in this browser started: for the stable link of ``channel_id`` or,
        with ``return_to``, to prove the identity a personal link asks for."""
        core = self.components.core
        nonce, now = secrets.token_urlsafe(16), core.clock.now()
        claims = {"n": nonce} if return_to else {"c": channel_id or self.channel_id, "n": nonce}
        state = core.links.encode(STATE_PURPOSE, claims, now, FLOW_LIFETIME)
        flow = {"n": nonce, "r": return_to, "u": expected_user, "k": "/join" if return_to else ""}
        cookie = core.links.encode(FLOW_PURPOSE, flow, now, FLOW_LIFETIME)
        return SignIn(state, identity._flow_cookie(nonce), cookie)

    def zoom_oauth_state(self) -> SignIn:
        zoom = self.components.zoom
        link = zoom.connect_link(UserId(self.member_id), ChannelId(self.channel_id))
        state = parse_qs(urlsplit(link).query)["state"][0]
        nonce = str(zoom.read_state(state)["n"])
        return SignIn(state, "meetbridge_zoom_oauth", nonce, self.identity_cookie())

    def dialog_state(
        self, action: str = "admin_allow", user_id: str | None = None, target: str = ""
    ) -> str:
        """The signed, single-use state of a confirmation dialog meetbridge showed ``user_id``
        (the admin by default), as Mattermost sends it back with the submission."""
        user = UserId(user_id or self.admin_id)
        claim = Claim(user, action, ChannelId(self.channel_id), target)
        state: str = self.components.confirmations.state_for(claim)
        return state

    def button_context(self, action: str = "join", target: str = "") -> dict[str, Any]:
        button = self.components.buttons.button("Join", action, self.channel_id, target)
        context: dict[str, Any] = button["integration"]["context"]
        return context


def build_world(database_url: str, data_dir: Path) -> World:
    mattermost = SignInMattermost()
    team_id = mattermost.add_team("Engineering")
    channel_id = mattermost.add_channel("Planning", team_id=team_id)
    member_id = mattermost.add_user("alice", first="Alice", last="Liddell")
    admin_id = mattermost.add_user("root", roles="system_user system_admin")
    outsider_id = mattermost.add_user("erin")
    oauth_code = "good-code"
    mattermost.codes[oauth_code] = member_id
    zoom_sim = ZoomSimulator(join_base="https://us02web.zoom.test")  # under zoom_url
    zoom_sim.add_user("alice@example.com", pmi=5551234567)
    config = ServiceConfig(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=base64.b64encode(generate_master_key()).decode(),
        public_url="https://meetbridge.example.com",
        mattermost_url="http://mattermost.test",
        mattermost_token="bot-token",
        mattermost_lookup_timeout=0.5,
        metrics_token=METRICS_TOKEN,
    )
    app = create_app(
        config,
        mattermost_transport=mattermost.transport(),
        zoom_transport=httpx2.ASGITransport(app=zoom_sim.app),
        auto_migrate=True,
        background=False,
    )
    harness = Harness(app)
    harness.start()
    command_token = secrets.token_urlsafe(20)
    webhook_secret = harness.run(_configure(harness, team_id, command_token))
    return World(
        harness=harness,
        mattermost=mattermost,
        zoom_sim=zoom_sim,
        team_id=team_id,
        command_token=command_token,
        channel_id=channel_id,
        member_id=member_id,
        admin_id=admin_id,
        outsider_id=outsider_id,
        webhook_secret=webhook_secret,
        oauth_code=oauth_code,
    )


async def _configure(harness: Harness, team_id: str, command_token: str) -> str:
    """Everything a deployment has once set up: Pexip node, Zoom app, the /meet command, the
    Mattermost OAuth app, and the lazily made secrets (made now, so no request makes them)."""
    components = harness.components
    admin, core = components.admin, components.core
    for key, value in {
        "default_engine": "pexip",  # the engine whose join path these tests attack
        "pexip_node": "pexip.example.com",
        "zoom_url": "https://zoom.test",
        "zoom_api_url": "https://zoom.test/v2",
        "zoom_client_id": "zoom-client",
    }.items():
        await admin.change_setting(key, value, "test")
    await admin.set_secret("zoom_client_secret", "zoom-secret", "test")
    await admin.set_secret("zoom_webhook_secret_token", ZOOM_SECRET_TOKEN, "test")
    oauth_app = {
        "client_id": new_id(),
        "client_secret": "mm-oauth-secret",
        "callback": "https://meetbridge.example.com/oauth/mattermost/callback",
    }
    async with core.database.transaction() as conn:
        now = core.clock.now()
        await chat_repo.save_command(conn, core.box, team_id, new_id(), "meet", command_token, now)
        await chat_repo.put_secret(
            conn, core.box, OAUTH_APP_RECORD, orjson.dumps(oauth_app).decode(), now
        )
    await components.zoom.token_box()
    webhook_url: str = await components.zoom.webhook_url()
    await components.zoom.webhook_path_secret()
    await components.state.refresh()
    return parse_qs(urlsplit(webhook_url).query)["secret"][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("hostile")
    built = build_world(f"sqlite:///{data_dir / 'meetbridge.db'}", data_dir)
    yield built
    built.harness.stop()


@pytest.fixture(scope="module")
def postgres_world(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("hostile-pg")
    url = postgres_server.create_database(f"mb_hostile_{os.getpid()}")
    built = build_world(url, data_dir)
    yield built
    built.harness.stop()
