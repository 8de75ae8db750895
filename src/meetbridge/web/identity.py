"""Proof, from Mattermost itself, of who is at this browser.

Links meetbridge hands out in Mattermost name the user they were made for, but the reply that
carries them can be obtained by anyone holding the slash-command token (team admins can read it).
So a link that leads to a PIN, a meeting, the admin console or a Zoom connection is honoured
only in a browser that has proven to be that user: the browser goes through Mattermost's OAuth
(meetbridge's app is trusted, so a signed-in user sees nothing but redirects), meetbridge asks
Mattermost who signed in, and only if that is the link's user it sets a short-lived signed
identity cookie (HttpOnly, SameSite=Lax, scoped to the path of that kind of link) and goes on.

Without a Mattermost OAuth app there is no proof, and such links are refused (fail closed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from meetbridge.chat.mattermost.oauth import MattermostOAuth
from meetbridge.clock import Clock
from meetbridge.crypto import constant_time_equal
from meetbridge.domain.ids import UserId, is_mattermost_id
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.web.pages import NO_STORE, message_page

IDENTITY_COOKIE = "meetbridge_identity"
IDENTITY_PURPOSE = "identity"
# Short: a browser whose Mattermost user changes is asked again soon; the round trip is silent.
IDENTITY_LIFETIME = 15 * 60.0

STATE_PURPOSE = "oauth-state"
FLOW_PURPOSE = "oauth-flow"
FLOW_COOKIE = "meetbridge_oauth"
FLOW_PATH = "/oauth/mattermost"
FLOW_LIFETIME = 10 * 60.0

# Where each kind of link lives: the identity cookie is sent only there.
JOIN_PATH = "/join"
ADMIN_PATH = "/admin/login"
ZOOM_PATH = "/zoom"  # connect links (/zoom/oauth) and meeting links (/zoom/join)
_COOKIE_PATHS = (JOIN_PATH, ADMIN_PATH, ZOOM_PATH)

SIGN_IN_UNAVAILABLE = (
    "This link can only be opened after Mattermost confirms who you are, and signing in with "
    "Mattermost is not set up on this meetbridge (it needs Mattermost's OAuth 2.0 service "
    "provider). Ask an admin."
)
OTHER_USER = (
    "This link was made for another Mattermost user. Links from /meet are personal: ask in "
    "the channel, or run /meet yourself."
)


@dataclass(frozen=True, slots=True)
class Flow:
    """A sign-in under way in this browser: what to do once Mattermost says who it is."""

    nonce: str
    return_to: str = ""  # a path of ours; empty for the stable link
    expected_user: str = ""
    cookie_path: str = ""


class IdentityGate:
    def __init__(
        self, oauth: MattermostOAuth | None, links: TokenCodec, clock: Clock, secure: bool
    ) -> None:
        self._oauth = oauth
        self._links = links
        self._clock = clock
        self._secure = secure

    # --- the identity cookie -------------------------------------------------------------

    def proven_user(self, request: Request) -> UserId | None:
        try:
            claims = self._links.decode(
                request.cookies.get(IDENTITY_COOKIE, ""), IDENTITY_PURPOSE, self._clock.now()
            )
        except TokenError:
            return None
        user_id = claims.get("u")
        return UserId(user_id) if isinstance(user_id, str) and is_mattermost_id(user_id) else None

    def set_identity(self, response: Response, user_id: UserId, path: str) -> None:
        if path not in _COOKIE_PATHS:
            return
        token = self._links.encode(
            IDENTITY_PURPOSE, {"u": user_id}, self._clock.now(), IDENTITY_LIFETIME
        )
        response.set_cookie(
            IDENTITY_COOKIE,
            token,
            max_age=int(IDENTITY_LIFETIME),
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path=path,
        )

    # --- asking Mattermost ---------------------------------------------------------------

    async def require(self, request: Request, user_id: UserId, cookie_path: str) -> Response | None:
        """None if this browser has proven to be ``user_id``; otherwise the response that gets
        the proof (a redirect through Mattermost's sign-in), or a refusal."""
        if self.proven_user(request) == user_id:
            return None
        return await self.sign_in(Flow("", this_link(request), user_id, cookie_path), {})

    async def sign_in(self, flow: Flow, state_claims: dict[str, Any]) -> Response:
        """Send the browser to Mattermost; the callback comes back to this browser only."""
        nonce = secrets.token_urlsafe(16)
        now = self._clock.now()
        state = self._links.encode(STATE_PURPOSE, {**state_claims, "n": nonce}, now, FLOW_LIFETIME)
        url = None if self._oauth is None else await self._oauth.authorize_url(state)
        if url is None:
            return message_page("Sign-in is not available", SIGN_IN_UNAVAILABLE, 503)
        cookie = self._links.encode(
            FLOW_PURPOSE,
            {"n": nonce, "r": flow.return_to, "u": flow.expected_user, "k": flow.cookie_path},
            now,
            FLOW_LIFETIME,
        )
        response = RedirectResponse(url, status_code=302, headers=NO_STORE)
        response.set_cookie(
            _flow_cookie(nonce),
            cookie,
            max_age=int(FLOW_LIFETIME),
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path=FLOW_PATH,
        )
        return response

    def read_state(self, request: Request) -> dict[str, Any] | None:
        try:
            return self._links.decode(
                request.query_params.get("state", ""), STATE_PURPOSE, self._clock.now()
            )
        except TokenError:
            return None

    def flow_of(self, request: Request, state: dict[str, Any]) -> Flow | None:
        """The flow this browser started, if it is the one ``state`` belongs to."""
        state_nonce = state.get("n")
        if not isinstance(state_nonce, str):
            return None
        try:
            claims = self._links.decode(
                request.cookies.get(_flow_cookie(state_nonce), ""), FLOW_PURPOSE, self._clock.now()
            )
        except TokenError:
            return None
        nonce = claims.get("n")
        if not isinstance(nonce, str) or not constant_time_equal(nonce, state_nonce):
            return None
        values = [claims.get(key, "") for key in ("r", "u", "k")]
        if not all(isinstance(value, str) for value in values):
            return None
        return Flow(nonce, *values)

    @staticmethod
    def end_flow(response: Response, flow: Flow) -> None:
        response.delete_cookie(_flow_cookie(flow.nonce), path=FLOW_PATH)


def this_link(request: Request) -> str:
    """The path and query of ``request``, to come back to after the sign-in. Read from the raw
    scope and percent-encoded: ``request.url`` decodes the query as UTF-8 and raises on other
    bytes, which a hostile link may carry."""
    path = quote(request.scope["path"], safe="/")
    query = quote(request.scope.get("query_string", b""), safe="&=%+")
    return f"{path}?{query}" if query else path


def _flow_cookie(nonce: str) -> str:
    # One cookie per sign-in under way: two links opened at once must not undo each other.
    return f"{FLOW_COOKIE}_{hashlib.sha256(nonce.encode()).hexdigest()[:12]}"
