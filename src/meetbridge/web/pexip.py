"""Infinity's two interfaces: the external policy server and the event sink.

Policy base URL (what the admin pastes into Infinity): ``{public_url}/api/pexip/``; Infinity
appends ``policy/v1/...``. Event sink: ``{public_url}/api/pexip/event_sink``. Both require the
HTTP Basic credentials from ``meetbridge pexip credentials``.

These are the two hot paths, so they are a plain ASGI application rather than Starlette routes:
no middleware stack, no Request object, and only the query parameters meetbridge reads are
decoded. That cuts the cost of an answer to a fraction (see benchmarks/policy.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

import orjson
import structlog

from meetbridge.engines.pexip import policy as answers
from meetbridge.engines.pexip.events import EnvelopeError, parse_body
from meetbridge.engines.pexip.policy import PolicyAnswer
from meetbridge.engines.pexip.policy_service import PolicyService
from meetbridge.metrics import Metrics
from meetbridge.services.shared_state import SharedState
from meetbridge.store.inbox import (
    InboxRecord,
    InboxRejectedError,
    InboxUnavailableError,
    InboxWriter,
)
from meetbridge.web.asgi import (
    IncompleteBodyError,
    Receive,
    Scope,
    Send,
    read_body,
    send_json,
)
from meetbridge.web.basic_auth import BasicAuthChecker

log = structlog.get_logger(__name__)

PREFIX = "/api/pexip/"
SOURCE = "pexip"
MAX_SINK_BODY = 16 * 1024 * 1024  # bulk envelopes gather 0.1 s of events from a busy node
_UNAUTHORIZED_HEADERS = [(b"www-authenticate", b'Basic realm="meetbridge", charset="UTF-8"')]
_UNAUTHORIZED = orjson.dumps(
    {"error": "HTTP Basic authentication with the meetbridge Pexip credentials is required"}
)
_POLICY_KINDS = {
    "policy/v1/service/configuration": "service_configuration",
    "policy/v1/participant/properties": "participant_properties",
}
_KINDS = ("service_configuration", "participant_properties", "other")
# The only query parameters the answers depend on; the rest are never decoded.
_POLICY_PARAMETERS = frozenset(
    {"local_alias", "call_tag", "service_tag", "service_name", "remote_display_name"}
)


def parse_query(raw: bytes, wanted: Iterable[str] = _POLICY_PARAMETERS) -> dict[str, str]:
    """Decode the ``wanted`` parameters of a query string (first occurrence wins)."""
    wanted = frozenset(wanted)
    found: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name in wanted and name not in found:
            found[name] = unquote_plus(value, encoding="utf-8", errors="replace")
    return found


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class PexipEndpoints:
    """ASGI app for everything under ``/api/pexip/``."""

    def __init__(
        self,
        state: SharedState,
        policy: PolicyService,
        inbox: InboxWriter,
        metrics: Metrics,
        on_policy_request: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_policy_request = on_policy_request
        self._state = state
        self._policy = policy
        self._inbox = inbox
        self._metrics = metrics
        self._auth = BasicAuthChecker()
        self._answer_counters: dict[tuple[str, str], Any] = {}
        self._received_counters: dict[str, Any] = {}
        self._latency = {kind: metrics.policy_latency.labels(kind) for kind in _KINDS}

    def _count_answer(self, kind: str, outcome: str) -> None:
        # Resolving labelled children costs more than the increment: keep them.
        counter = self._answer_counters.get((kind, outcome))
        if counter is None:
            counter = self._metrics.policy_answers.labels(kind, outcome)
            self._answer_counters[(kind, outcome)] = counter
        counter.inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Tolerate the doubled slash of a base URL typed with a trailing "/".
        path = scope["path"][len(PREFIX) :].strip("/")
        method = scope["method"]
        if path == "event_sink":
            if method != "POST":
                await _method_not_allowed(send, "POST")
                return
            await self.event_sink(scope, receive, send)
            return
        if method not in ("GET", "HEAD"):
            await _method_not_allowed(send, "GET")
            return
        await self.policy(scope, path, send)

    async def policy(self, scope: Scope, path: str, send: Send) -> None:
        started = time.perf_counter()
        if not self._auth.check(_authorization(scope), self._state.credentials):
            self._count_answer("unknown", "unauthorized")
            await send_json(send, 401, _UNAUTHORIZED, _UNAUTHORIZED_HEADERS)
            return
        kind = _POLICY_KINDS.get(path)
        answer: PolicyAnswer
        if kind == "service_configuration":
            answer = await self._policy.service_configuration(parse_query(scope["query_string"]))
        elif kind == "participant_properties":
            answer = await self._policy.participant_properties(parse_query(scope["query_string"]))
        elif path.startswith("policy/v1/"):
            kind, answer = "other", answers.fallback(answers.Outcome.OTHER_REQUEST)
        else:
            body = orjson.dumps({"error": f"no such policy request: /{path}"})
            await send_json(send, 404, body)
            return
        self._count_answer(kind, answer.outcome.value)
        self._on_policy_request()
        await send_json(send, answer.status_code, orjson.dumps(answer.body))
        self._latency[kind].observe(time.perf_counter() - started)

    async def event_sink(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if not self._auth.check(_authorization(scope), self._state.credentials):
            self._metrics.events_rejected.labels(SOURCE, "unauthorized").inc()
            await send_json(send, 401, _UNAUTHORIZED, _UNAUTHORIZED_HEADERS)
            return
        try:
            body = await read_body(receive, MAX_SINK_BODY)
        except IncompleteBodyError:
            await self._invalid(send, "the event-sink body ended before its declared end")
            return
        if body is None:
            self._metrics.events_rejected.labels(SOURCE, "too_large").inc()
            message = f"event-sink body larger than {MAX_SINK_BODY} bytes"
            await send_json(send, 413, orjson.dumps({"error": message}))
            return
        try:
            records = _records(body, time.time())
        except EnvelopeError as exc:
            await self._invalid(send, str(exc))
            return
        try:
            if records:  # an empty bulk envelope: nothing to store (and no empty INSERT)
                await self._inbox.append(records)
        except InboxRejectedError:
            # A value the database cannot store that validation let through: this request is
            # refused on its own (retrying it would fail the same way); other nodes go on.
            await self._invalid(send, "a value the database cannot store")
            return
        except InboxUnavailableError:
            self._metrics.events_rejected.labels(SOURCE, "unavailable").inc()
            # Infinity retries with back-off: nothing is lost, the node's queue waits.
            message = "meetbridge cannot store events right now; retry"
            await send_json(send, 503, orjson.dumps({"error": message}))
            return
        await send_json(send, 200, b"{}")
        for record in records:
            self._received(record.event).inc()
        self._metrics.sink_latency.observe(time.perf_counter() - started)

    def _received(self, event: str) -> Any:
        counter = self._received_counters.get(event)
        if counter is None:
            counter = self._metrics.events_received.labels(SOURCE, event)
            if len(self._received_counters) < 256:  # event names come from outside: bound them
                self._received_counters[event] = counter
        return counter

    async def _invalid(self, send: Send, message: str) -> None:
        self._metrics.events_rejected.labels(SOURCE, "invalid").inc()
        body = orjson.dumps({"error": f"not a valid event-sink envelope: {message}"})
        await send_json(send, 400, body)


def _records(body: bytes, now: float) -> list[InboxRecord]:
    validated = parse_body(body)
    return [
        InboxRecord(
            source=SOURCE,
            node=item["node"],
            seq=item["seq"],
            event=item["event"],
            received_at=now,
            # A single envelope is stored exactly as it came; bulk items one by one.
            body=orjson.dumps(item).decode() if validated.bulk else body.decode(),
        )
        for item in validated.envelopes
    ]


async def _method_not_allowed(send: Send, allowed: str) -> None:
    body: dict[str, Any] = {"error": f"method not allowed; use {allowed}"}
    await send_json(send, 405, orjson.dumps(body), [(b"allow", allowed.encode())])
