"""Zoom's ways in: the OAuth connect flow and the webhook endpoint.

Webhook URL (paste into the Zoom app's event subscription): ``{public_url}/api/zoom/webhook``
with meetbridge's generated ``?secret=`` (``meetbridge zoom webhook-url`` prints it). A request
is accepted only with that secret, a valid Zoom signature made with the app's Secret Token, a
timestamp within five minutes, and a signature not seen before; anything else gets 401 and
changes nothing. The URL-validation challenge is no exception: Zoom signs it like any event
(its own webhook sample checks the signature first), and its answer is a MAC of our choosing.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from meetbridge.clock import Clock
from meetbridge.crypto import constant_time_equal
from meetbridge.domain.tokens import TokenError
from meetbridge.engines.zoom import webhooks
from meetbridge.engines.zoom.api import ZoomApiError, ZoomError
from meetbridge.engines.zoom.service import (
    Outcome,
    ZoomConnectRefusedError,
    ZoomJoinRefusedError,
    ZoomService,
)
from meetbridge.services.shared_state import SharedState
from meetbridge.store.database import Database
from meetbridge.web.identity import OTHER_USER, ZOOM_PATH, IdentityGate
from meetbridge.web.pages import NO_STORE, message_page, render
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

COOKIE = "meetbridge_zoom_oauth"


class ZoomEndpoints:
    def __init__(
        self,
        zoom: ZoomService,
        state: SharedState,
        database: Database,
        clock: Clock,
        identity: IdentityGate,
        secure_cookies: bool,
    ) -> None:
        self._identity = identity
        self._zoom = zoom
        self._state = state
        self._database = database
        self._clock = clock
        self._secure = secure_cookies

    def routes(self) -> list[Route]:
        return [
            Route("/zoom/oauth/start", self.oauth_start, methods=["GET"]),
            Route("/zoom/oauth/callback", self.oauth_callback, methods=["GET"]),
            Route("/zoom/join/{token}", self.join, methods=["GET"]),
            Route("/api/zoom/webhook", self.webhook, methods=["POST"]),
        ]

    # --- connecting an account ----------------------------------------------------------

    async def oauth_start(self, request: Request) -> Response:
        state = request.query_params.get("state", "")
        try:
            claims = self._zoom.read_state(state)
        except TokenError as exc:
            return message_page(
                "Cannot connect Zoom", f"{str(exc).capitalize()}. Run /meet connect again.", 400
            )
        if not self._zoom.configured():
            return message_page("Cannot connect Zoom", "Zoom is not configured on meetbridge.", 503)
        # Whoever opens the link must be the user it was made for, or the grant lands on the
        # wrong account (a connect link sent to someone else).
        user_id = self._zoom.state_user(claims)
        if user_id is None:
            return message_page("Cannot connect Zoom", "This connection link is not valid.", 400)
        unproven = await self._identity.require(request, user_id, ZOOM_PATH)
        if unproven is not None:
            return unproven
        refusal = await self._zoom.connect_refusal(user_id)
        if refusal:
            return message_page("Cannot connect Zoom", refusal, 403)
        response = RedirectResponse(
            self._zoom.api().authorize_url(self._zoom.callback_url, state), 302, headers=NO_STORE
        )
        # The callback must come back to this browser (the one the personal link was opened in).
        response.set_cookie(
            COOKIE,
            str(claims["n"]),
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path="/zoom/oauth",
        )
        return response

    async def oauth_callback(self, request: Request) -> Response:
        params = request.query_params
        try:
            claims = self._zoom.read_state(params.get("state", ""))
        except TokenError:
            return message_page(
                "Cannot connect Zoom", "This connection link is not valid or has expired.", 400
            )
        cookie = request.cookies.get(COOKIE, "")
        if not cookie or not constant_time_equal(cookie, str(claims.get("n", ""))):
            return message_page(
                "Cannot connect Zoom",
                "This connection did not start in this browser. Run /meet connect again.",
                400,
            )
        user_id = self._zoom.state_user(claims)
        if user_id is None or self._identity.proven_user(request) != user_id:
            return message_page("Cannot connect Zoom", OTHER_USER, 403)
        if not params.get("code"):
            return message_page("Zoom connection cancelled", "Zoom did not grant access.", 400)
        try:
            result = await self._zoom.complete_connection(claims, params["code"])
        except ZoomConnectRefusedError as refused:
            return message_page("Cannot connect Zoom", str(refused), 403)
        except ZoomError as exc:
            log.warning("zoom.connect_failed", error=str(exc))
            if isinstance(exc, ZoomApiError) and exc.status == 400:  # a forged or reused code
                return message_page(
                    "Cannot connect Zoom",
                    "Zoom did not accept this connection link. Run /meet connect again.",
                    400,
                )
            return message_page(
                "Cannot connect Zoom", "Zoom did not accept the connection; please try again.", 502
            )
        if result.outcome is Outcome.STARTED and result.url:
            response = render(
                "zoom_connected.html",
                title="Zoom meeting ready",
                message=result.text,
                join_url=result.url,
            )
        else:
            response = render(
                "zoom_connected.html", title="Zoom", message=result.text, join_url=None
            )
        response.delete_cookie(COOKIE, path="/zoom/oauth")
        return response

    # --- personal meeting links -------------------------------------------------------------

    async def join(self, request: Request) -> Response:
        try:
            user_id, row_id = self._zoom.read_join_link(request.path_params["token"])
        except TokenError as exc:
            return message_page("Cannot join this meeting", f"{str(exc).capitalize()}.", 403)
        unproven = await self._identity.require(request, user_id, ZOOM_PATH)
        if unproven is not None:
            return unproven
        try:
            url = await self._zoom.join_url(user_id, row_id)
        except ZoomJoinRefusedError as refused:
            return message_page("Cannot join this meeting", str(refused), 403)
        return RedirectResponse(url, status_code=302, headers=NO_STORE)

    # --- webhooks --------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        expected = await self._zoom.webhook_path_secret()
        if not constant_time_equal(request.query_params.get("secret", ""), expected):
            return error_response(401, "unknown webhook secret")
        if "application/json" not in request.headers.get("content-type", ""):
            return error_response(400, "expected application/json")
        secret_token = self._state.secrets.get("zoom_webhook_secret_token")
        if not secret_token:
            return error_response(400, "zoom_webhook_secret_token is not set on meetbridge")
        body = await request.body()  # bounded by the request-size limits (web/limits.py)
        now = self._clock.now()
        signature = _raw_header(request, b"x-zm-signature")
        # Every event is verified, the URL-validation challenge too: see engines/zoom/webhooks.
        refused = webhooks.refusal(
            secret_token, _raw_header(request, b"x-zm-request-timestamp"), body, signature, now
        )
        if refused is not None:
            log.warning("zoom.webhook_refused", reason=refused)
            return error_response(401, "webhook signature refused")
        assert signature is not None  # refusal() refuses a missing signature
        try:
            document: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "the body is not valid JSON")
        if not isinstance(document, dict) or not isinstance(document.get("event"), str):
            return error_response(400, "expected a Zoom event {event, payload}")
        payload = document.get("payload") if isinstance(document.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        if document["event"] == "endpoint.url_validation":
            plain = payload.get("plainToken")
            if not isinstance(plain, str) or not plain:
                return error_response(400, "payload.plainToken is missing")
            return json_response(webhooks.url_validation(secret_token, plain))
        return await self._event(signature.decode("ascii"), document["event"], payload, now)

    async def _event(
        self, signature: str, event: str, payload: dict[str, Any], now: float
    ) -> Response:
        try:
            applied = await self._zoom.receive_event(signature, event, payload, now)
        except Exception:
            # Nothing was kept, the receipt included: Zoom retries and the retry is applied.
            log.exception("zoom.webhook_failed", zoom_event=event[:64])
            return error_response(503, "the event could not be processed now; retry later")
        if not applied:
            log.warning("zoom.webhook_replayed", zoom_event=event[:64])
            return error_response(401, "webhook already received")
        return json_response({"status": "ok"})


def _raw_header(request: Request, name: bytes) -> bytes | None:
    """A header as the bytes that came in (signatures are checked on bytes, never on text)."""
    for key, value in request.headers.raw:
        if key == name:
            return value
    return None
