"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.metrics import Metrics
from meetbridge.store.database import Database
from meetbridge.web.responses import json_response

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class HealthEndpoints:
    def __init__(self, database: Database, metrics: Metrics) -> None:
        self._database = database
        self._metrics = metrics

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
        return Response(self._metrics.render(), media_type=PROMETHEUS_TEXT)
