"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.metrics import Metrics
from meetbridge.store.database import Database
from meetbridge.web.responses import error_response, json_response

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
METRICS_REALM = 'Bearer realm="meetbridge metrics"'


class HealthEndpoints:
    """``/healthz`` stays open and says only whether meetbridge and its database answer;
    ``/metrics`` requires ``Authorization: Bearer <token>`` when a metrics token is set."""

    def __init__(
        self, database: Database, metrics: Metrics, metrics_token: bytes | None = None
    ) -> None:
        self._database = database
        self._metrics = metrics
        self._metrics_token = metrics_token

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        try:
            async with asyncio.timeout(2.0), self._database.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return json_response({"status": "unavailable", "database": "unreachable"}, 503)
        return json_response({"status": "ok", "database": "ok"})

    async def metrics(self, request: Request) -> Response:
        if self._metrics_token is not None:
            header = request.headers.get("authorization")
            if header is None:
                return error_response(
                    401, "/metrics needs a bearer token", {"WWW-Authenticate": METRICS_REALM}
                )
            if not bearer_token_matches(header, self._metrics_token):
                return error_response(
                    401,
                    "/metrics needs the configured bearer token; this one is not it",
                    {"WWW-Authenticate": f'{METRICS_REALM}, error="invalid_token"'},
                )
        return Response(self._metrics.render(), media_type=PROMETHEUS_TEXT)


def bearer_token_matches(header: str, expected: bytes) -> bool:
    """Whether an Authorization header is ``Bearer <expected>``; compared in constant time on
    bytes, so any header (non-ASCII, malformed) is simply "no"."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Starlette decodes headers as latin-1, so this gives back the bytes that were sent.
    presented = token.strip().encode("latin-1", errors="replace")
    return hmac.compare_digest(presented, expected)
