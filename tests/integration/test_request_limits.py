"""Request-size limits, over real HTTP against ``meetbridge serve`` (Granian and uvicorn).

Every endpoint, the unauthenticated ones included, refuses a body larger than its route allows:
at once on ``Content-Length`` (before the client has sent the body), and while streaming a
chunked body with no length. A refusal is a 413 that names the limit, and the service goes on
serving everyone else.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from meetbridge.web.asgi import Message, Receive, Scope, Send
from meetbridge.web.limits import DEFAULT_LIMIT, ROUTE_LIMITS, RequestSizeLimits
from tests.support.infinity import InfinityNode, basic_auth
from tests.support.service_process import ServiceProcess

GIGABYTES_8 = 8 * 1024**3
CHUNK = 16 * 1024


@pytest.fixture(scope="module", params=["granian", "uvicorn"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    data_dir: Path = tmp_path_factory.mktemp(f"limits-{request.param}")
    service = ServiceProcess(data_dir, MEETBRIDGE_SERVER=request.param)
    service.cli("migrate")
    service.start()
    yield service
    service.stop()


def limit_of(path: str) -> int:
    return next((limit for prefix, limit in ROUTE_LIMITS if path.startswith(prefix)), DEFAULT_LIMIT)


def open_request(service: ServiceProcess, path: str, headers: dict[str, str]) -> socket.socket:
    """Send a POST's request line and headers, and nothing of its body."""
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        received = sock.recv(65536)
        if not received:
            break
        data += received
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "no response"
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        received = sock.recv(65536)
        if not received:
            break
        body += received
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    "path",
    [
        "/api/mattermost/action",
        "/api/mattermost/command",
        "/api/zoom/webhook?secret=anything",
        "/api/pexip/event_sink",
        "/admin/settings",
        "/join/some-token",
    ],
)
def test_an_oversized_content_length_is_refused_before_the_body_is_sent(
    served: ServiceProcess, path: str
) -> None:
    sock = open_request(
        served, path, {"Content-Type": "application/json", "Content-Length": str(GIGABYTES_8)}
    )
    with sock:
        status, body = read_response(sock)  # not one byte of the body has been sent
    assert status == 413
    assert f"at most {limit_of(path)} bytes" in orjson.loads(body)["error"]


def test_a_chunked_stream_over_the_cap_is_cut_off_with_413(served: ServiceProcess) -> None:
    path = "/api/mattermost/action"
    sock = open_request(
        served, path, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    sent, budget = 0, 64 * limit_of(path)
    chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    with sock:
        try:
            while sent < budget and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += CHUNK
        except OSError:
            pass  # the server stopped reading and closed: the answer is already waiting
        status, body = read_response(sock)
    assert status == 413, body
    assert sent < budget, "the server read the whole stream before answering"
    assert f"at most {limit_of(path)} bytes" in orjson.loads(body)["error"]


def test_a_chunked_body_within_the_cap_is_accepted(served: ServiceProcess) -> None:
    """Bulk event-sink envelopes are the largest legitimate bodies; chunked, they go through."""
    node = InfinityNode("10.20.0.99")
    envelope = orjson.dumps(
        node.bulk(
            [
                node.participant_connected("matt-x", "", uuid=f"p{i}", display_name="x" * 200)
                for i in range(2000)
            ]
        )
    )
    assert CHUNK * 4 < len(envelope) < limit_of("/api/pexip/event_sink")
    auth = basic_auth(*served.credentials())
    sock = open_request(
        served,
        "/api/pexip/event_sink",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked", **auth},
    )
    with sock:
        for start in range(0, len(envelope), CHUNK):
            piece = envelope[start : start + CHUNK]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, body = read_response(sock)
    assert status == 200, body


def test_the_service_keeps_serving_others_after_refusals(served: ServiceProcess) -> None:
    socks = [
        open_request(served, "/api/mattermost/action", {"Content-Length": str(GIGABYTES_8)})
        for _ in range(20)
    ]
    for sock in socks:
        with sock:
            assert read_response(sock)[0] == 413
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock)[0] == 200
    small = b'{"user_id": "x"}'
    sock = open_request(
        served,
        "/api/mattermost/action",
        {"Content-Type": "application/json", "Content-Length": str(len(small))},
    )
    with sock:
        sock.sendall(small)
        assert read_response(sock)[0] == 400  # judged on its content, not refused for size


# --- the mechanism itself, in process -------------------------------------------------------


class Exchange:
    """One request through ``RequestSizeLimits``: the body arrives in ``pieces``."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.pieces:
            return {"type": "http.disconnect"}
        piece = self.pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(self.pieces)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> object:
        return self.sent[0]["status"]


def http_scope(
    headers: list[tuple[bytes, bytes]], method: str = "POST", path: str = "/api/mattermost/action"
) -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers}


async def reads_whole_body(scope: Scope, receive: Receive, send: Send) -> None:
    """A stand-in for a route: reads the body as Starlette does, failing on a disconnect."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("client disconnected")
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"12a")],
        [(b"content-length", b"-1")],
        [(b"content-length", b"9" * 30)],
        [(b"content-length", b"5"), (b"content-length", b"6")],
    ],
)
async def test_a_malformed_content_length_gets_400(headers: list[tuple[bytes, bytes]]) -> None:
    exchange = Exchange([b"hello"])
    await RequestSizeLimits(reads_whole_body)(http_scope(headers), exchange.receive, exchange.send)
    assert exchange.status == 400 and exchange.pieces == [b"hello"]  # the body was never read


async def test_a_stream_past_the_limit_is_cut_off_and_the_route_never_sees_the_rest() -> None:
    limits = RequestSizeLimits(reads_whole_body, (("/api/", 10),), default=1000)
    exchange = Exchange([b"x" * 6, b"x" * 6, b"x" * 6])
    await limits(http_scope([(b"transfer-encoding", b"chunked")]), exchange.receive, exchange.send)
    assert exchange.status == 413 and len(exchange.sent) == 2  # the 413 alone, nothing after it
    assert exchange.pieces == [b"x" * 6]  # stopped reading at the limit


async def test_a_stream_within_the_limit_reaches_the_route_whole() -> None:
    limits = RequestSizeLimits(reads_whole_body, (("/api/", 10),), default=1000)
    exchange = Exchange([b"x" * 5, b"y" * 5])
    await limits(http_scope([(b"content-length", b"10")]), exchange.receive, exchange.send)
    assert exchange.status == 200 and exchange.sent[1]["body"] == b"x" * 5 + b"y" * 5


async def test_a_bodiless_get_reaches_the_route_unwrapped() -> None:
    """The policy hot path pays for the header scan only."""
    seen: list[Receive] = []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(receive)

    exchange = Exchange([])
    scope = http_scope([], method="GET", path="/api/pexip/policy/v1/service/configuration")
    await RequestSizeLimits(route)(scope, exchange.receive, exchange.send)
    assert seen == [exchange.receive]


async def test_an_error_that_is_not_a_cut_off_still_propagates() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    exchange = Exchange([b"x"])
    with pytest.raises(RuntimeError):
        await RequestSizeLimits(broken)(
            http_scope([(b"content-length", b"1")]), exchange.receive, exchange.send
        )


async def test_a_declared_length_over_the_limit_is_refused_without_reading() -> None:
    exchange = Exchange([b"x" * 11])
    limits = RequestSizeLimits(reads_whole_body, (("/api/", 10),))
    await limits(http_scope([(b"content-length", b"11")]), exchange.receive, exchange.send)
    assert exchange.status == 413 and exchange.pieces == [b"x" * 11]
    assert (b"connection", b"close") in exchange.sent[0]["headers"]


async def test_a_route_that_keeps_reading_after_the_cut_off_only_sees_the_end() -> None:
    messages: list[Message] = []

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        messages.extend([await receive(), await receive()])

    exchange = Exchange([b"x" * 11, b"y"])
    limits = RequestSizeLimits(stubborn, (("/api/", 10),))
    await limits(http_scope([(b"transfer-encoding", b"chunked")]), exchange.receive, exchange.send)
    assert [m["type"] for m in messages] == ["http.disconnect", "http.disconnect"]
    assert exchange.pieces == [b"y"] and exchange.status == 413


async def test_a_cut_off_after_the_response_started_ends_it_without_a_second_status() -> None:
    async def answers_early(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive())["type"] != "http.disconnect":
            pass
        await send({"type": "http.response.body", "body": b"late"})

    exchange = Exchange([b"x" * 6, b"x" * 6])
    limits = RequestSizeLimits(answers_early, (("/api/", 10),))
    await limits(http_scope([(b"transfer-encoding", b"chunked")]), exchange.receive, exchange.send)
    assert [m["type"] for m in exchange.sent] == ["http.response.start"]


async def test_lifespan_and_websocket_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    exchange = Exchange([])
    for kind in ("lifespan", "websocket"):
        await RequestSizeLimits(app)({"type": kind}, exchange.receive, exchange.send)
    assert seen == ["lifespan", "websocket"] and exchange.sent == []
