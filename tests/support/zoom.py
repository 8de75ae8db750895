"""A simulator of Zoom's OAuth endpoints, REST API v2 and webhooks (reference/engines.md §2).

Zoom cannot run here. The simulator answers as Zoom does: the authorization-code and
refresh-token grants with HTTP Basic client authentication (refresh tokens rotate, access
tokens expire), users by ``me`` or email, instant meetings (201) and meetings by id (personal
meeting IDs included), and Zoom's error shapes: 401 with code 124 for a bad or expired token,
404 for unknown users, 429 with Retry-After. ``signed_webhook`` builds webhook requests signed
with the "v0" scheme.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

_meeting_numbers = itertools.count(81_000_000_001)


@dataclass
class ZoomUser:
    email: str
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    pmi: int | None = None
    first_name: str = "Zoe"
    last_name: str = "User"


@dataclass
class _Token:
    email: str
    expires_at: float


class ZoomSimulator:
    def __init__(
        self,
        client_id: str = "zoom-client",
        client_secret: str = "zoom-secret",
        clock: Callable[[], float] = time.time,
        join_base: str = "https://zoom.example",
    ) -> None:
        self.join_base = join_base  # Zoom's web host: join links point there
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.users: dict[str, ZoomUser] = {}
        self.login_as = ""  # the Zoom user who signs in at /oauth/authorize
        self.token_lifetime = 3600
        self.token_delay = 0.0  # seconds the token endpoint takes (to overlap refreshes)
        self.token_fail_next: list[int] = []  # statuses the token endpoint answers next
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (email, redirect_uri)
        self.access: dict[str, _Token] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> email
        self.meetings: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # meeting creation requests, as received
        self.fail_next: list[tuple[int, dict[str, str]]] = []
        self.requests: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/oauth/authorize", self._authorize),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/v2/users/{user}", self._user),
                Route("/v2/users/{user}/meetings", self._create_meeting, methods=["POST"]),
                Route("/v2/meetings/{meeting_id}", self._meeting),
            ]
        )

    def add_user(self, email: str, pmi: int | None = None) -> ZoomUser:
        user = ZoomUser(email, pmi=pmi)
        self.users[email] = user
        if pmi:
            self.meetings[str(pmi)] = {
                "id": pmi,
                "uuid": base64.b64encode(secrets.token_bytes(12)).decode(),
                "type": 4,
                "join_url": f"{self.join_base}/j/{pmi}?pwd=personal",
                "topic": "Personal Meeting Room",
            }
        self.login_as = self.login_as or email
        return user

    def expire_all_tokens(self) -> None:
        for token in self.access.values():
            token.expires_at = 0

    # --- OAuth ------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.client_id or params.get("response_type") != "code":
            return JSONResponse({"reason": "Invalid client_id", "error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = (self.login_as, params.get("redirect_uri", ""))
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params.get('redirect_uri')}?{query}", status_code=302)

    async def _token(self, request: Request) -> Response:
        self.requests.append("POST /oauth/token")
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if self.token_fail_next:
            status = self.token_fail_next.pop(0)
            return JSONResponse({"reason": "simulated failure", "error": "server_error"}, status)
        expected = (
            "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        )
        if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
            return JSONResponse(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, 401
            )
        form = _form(await request.body())
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self.codes.pop(form.get("code", ""), None)
            if found is None or found[1] != form.get("redirect_uri"):
                return JSONResponse(
                    {"reason": "Invalid authorization code", "error": "invalid_grant"}, 400
                )
            email = found[0]
        elif grant == "refresh_token":
            email_or_none = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if email_or_none is None:
                return JSONResponse({"reason": "Invalid Token!", "error": "invalid_grant"}, 400)
            email = email_or_none
        else:
            return JSONResponse(
                {"reason": "unsupported grant type", "error": "unsupported_grant_type"}, 400
            )
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = _Token(email, self.clock() + self.token_lifetime)
        self.refresh_tokens[refresh] = email
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "refresh_token": refresh,
                "expires_in": self.token_lifetime,
                "scope": "meeting:write user:read",
            }
        )

    # --- API --------------------------------------------------------------------------------

    def _check(self, request: Request) -> tuple[ZoomUser | None, Response | None]:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.fail_next:
            status, headers = self.fail_next.pop(0)
            return None, JSONResponse(
                {"code": status, "message": "simulated failure"}, status, headers=headers
            )
        header = request.headers.get("authorization", "")
        token = self.access.get(header.removeprefix("Bearer "))
        if token is None or token.expires_at <= self.clock():
            return None, JSONResponse({"code": 124, "message": "Invalid access token."}, 401)
        return self.users.get(token.email), None

    async def _user(self, request: Request) -> Response:
        caller, failure = self._check(request)
        if failure is not None:
            return failure
        wanted = request.path_params["user"]
        user = caller if wanted == "me" else self.users.get(wanted)
        if user is None:
            return JSONResponse({"code": 1001, "message": "User does not exist: " + wanted}, 404)
        return JSONResponse(
            {
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "pmi": user.pmi,
                "type": 2,
            }
        )

    async def _create_meeting(self, request: Request) -> Response:
        caller, failure = self._check(request)
        if failure is not None:
            return failure
        wanted = request.path_params["user"]
        host = caller if wanted == "me" else self.users.get(wanted)
        if host is None:
            return JSONResponse({"code": 1001, "message": "User does not exist"}, 404)
        body = orjson.loads(await request.body())
        number = next(_meeting_numbers)
        meeting = {
            "id": number,
            "uuid": base64.b64encode(secrets.token_bytes(12)).decode(),
            "host_id": host.id,
            "topic": body.get("topic", ""),
            "type": body.get("type", 1),
            "join_url": f"{self.join_base}/j/{number}?pwd={secrets.token_hex(6)}",
        }
        self.meetings[str(number)] = meeting
        self.created.append({"host": host.email, **body})
        return JSONResponse(meeting, 201)

    async def _meeting(self, request: Request) -> Response:
        _caller, failure = self._check(request)
        if failure is not None:
            return failure
        meeting = self.meetings.get(request.path_params["meeting_id"])
        if meeting is None:
            return JSONResponse({"code": 3001, "message": "Meeting does not exist."}, 404)
        return JSONResponse(meeting)


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def signed_webhook(
    event: str, payload: dict[str, Any], secret_token: str, timestamp: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook request as Zoom sends it: JSON body and v0 signature headers."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    body = orjson.dumps({"event": event, "event_ts": int(float(ts) * 1000), "payload": payload})
    digest = hmac.new(
        secret_token.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "content-type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": f"v0={digest}",
    }


def meeting_event(event: str, meeting_id: str | int, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": "acct",
        "object": {
            "id": str(meeting_id),
            "uuid": "u==",
            "host_id": "h",
            "topic": "Zoom Meeting",
            "type": 1,
            **extra,
        },
    }
