"""Zoom's ways in: the OAuth connect flow and the webhook endpoint.

Webhook URL (paste into the Zoom app's event subscription): ``{public_url}/api/zoom/webhook``
with meetbridge's generated ``?secret=`` (``meetbridge zoom webhook-url`` prints it). A request
is accepted only with that secret, a valid Zoom signature made with the app's Secret Token, a
timestamp within five minutes, and a signature not seen before; anything else gets 401 and
changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from meetbridge.clock import Clock
from meetbridge.domain.tokens import TokenError
from meetbridge.engines.zoom import webhooks
from meetbridge.engines.zoom.api import ZoomApiError, ZoomError
from meetbridge.services.shared_state import SharedState
from meetbridge.services.zoom import Outcome, ZoomService
from meetbridge.store import zoom_repo
from meetbridge.store.database import Database
from meetbridge.web.pages import NO_STORE, message_page, render
from meetbridge.web.responses import error_response, json_response

log = structlog.get_logger(__name__)

COOKIE = "meetbridge_zoom_oauth"
MAX_BODY = 1024 * 1024


class ZoomEndpoints:
    def __init__(
        self,
        zoom: ZoomService,
        state: SharedState,
        database: Database,
        clock: Clock,
        secure_cookies: bool,
    ) -> None:
        self._zoom = zoom
        self._state = state
        self._database = database
        self._clock = clock
        self._secure = secure_cookies

    def routes(self) -> list[Route]:
        return [
            Route("/zoom/oauth/start", self.oauth_start, methods=["GET"]),
            Route("/zoom/oauth/callback", self.oauth_callback, methods=["GET"]),
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
        if not cookie or not secrets.compare_digest(cookie, str(claims.get("n", ""))):
            return message_page(
                "Cannot connect Zoom",
                "This connection did not start in this browser. Run /meet connect again.",
                400,
            )
        if not params.get("code"):
            return message_page("Zoom connection cancelled", "Zoom did not grant access.", 400)
        try:
            result = await self._zoom.complete_connection(claims, params["code"])
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

    # --- webhooks --------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        expected = await self._zoom.webhook_path_secret()
        if not hmac.compare_digest(
            request.query_params.get("secret", "").encode(), expected.encode()
        ):
            return error_response(401, "unknown webhook secret")
        if "application/json" not in request.headers.get("content-type", ""):
            return error_response(400, "expected application/json")
        body = await request.body()
        if len(body) > MAX_BODY:
            return error_response(413, "webhook body too large")
        try:
            document: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "the body is not valid JSON")
        if not isinstance(document, dict) or not isinstance(document.get("event"), str):
            return error_response(400, "expected a Zoom event {event, payload}")
        secret_token = self._state.secrets.get("zoom_webhook_secret_token")
        if not secret_token:
            return error_response(400, "zoom_webhook_secret_token is not set on meetbridge")
        payload = document.get("payload") if isinstance(document.get("payload"), dict) else {}
        if document["event"] == "endpoint.url_validation":
            plain = payload.get("plainToken") if isinstance(payload, dict) else None
            if not isinstance(plain, str) or not plain:
                return error_response(400, "payload.plainToken is missing")
            return json_response(webhooks.url_validation(secret_token, plain))
        return await self._event(request, body, document["event"], payload, secret_token)

    async def _event(
        self, request: Request, body: bytes, event: str, payload: Any, secret_token: str
    ) -> Response:
        signature = request.headers.get("x-zm-signature")
        now = self._clock.now()
        try:
            webhooks.verify(
                secret_token, request.headers.get("x-zm-request-timestamp"), body, signature, now
            )
        except webhooks.WebhookRefusedError as exc:
            log.warning("zoom.webhook_refused", reason=str(exc))
            return error_response(401, "webhook signature refused")
        async with self._database.transaction() as conn:
            first = await zoom_repo.first_receipt(
                conn, str(signature), now, keep=2 * webhooks.WINDOW
            )
        if not first:
            log.warning("zoom.webhook_replayed", zoom_event=event)
            return error_response(401, "webhook already received")
        await self._zoom.apply_event(event, payload)
        return json_response({"status": "ok"})
