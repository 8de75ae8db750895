"""One request id on every line meetbridge logs for one request, and back in the answer."""

from __future__ import annotations

import httpx2
import structlog
from structlog.testing import capture_logs

from meetbridge.web.asgi import Receive, Scope, Send, send_json
from meetbridge.web.request_ids import RequestIds

log = structlog.get_logger(__name__)


async def _handler(scope: Scope, receive: Receive, send: Send) -> None:
    log.info("step.one")
    log.info("step.two")
    await send_json(send, 200, b"{}", [(b"x-request-id", b"from-the-app")])


def _client() -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=RequestIds(_handler))
    return httpx2.AsyncClient(transport=transport, base_url="http://meetbridge.test")


async def test_lines_of_one_request_share_its_id_and_the_answer_carries_it() -> None:
    async with _client() as http:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            first = await http.get("/")
            second = await http.get("/")
    ids = [entry["request_id"] for entry in logs]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert first.headers.get_list("x-request-id") == [ids[0]]
    assert second.headers["x-request-id"] == ids[2]


async def test_a_proxys_plain_id_is_kept() -> None:
    async with _client() as http:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            answer = await http.get("/", headers={"X-Request-Id": "haproxy-7f3a:12"})
    assert {entry["request_id"] for entry in logs} == {"haproxy-7f3a:12"}
    assert answer.headers["x-request-id"] == "haproxy-7f3a:12"


async def test_an_id_that_could_forge_log_lines_is_replaced() -> None:
    hostile = ["a\u2028b", "x" * 65, "id with spaces", "a\\nfake=line", ""]
    async with _client() as http:
        for value in hostile:
            with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
                answer = await http.get("/", headers={b"X-Request-Id": value.encode("utf-8")})
            given = answer.headers["x-request-id"]
            assert given != value and len(given) == 16 and int(given, 16) >= 0
            assert {entry["request_id"] for entry in logs} == {given}
