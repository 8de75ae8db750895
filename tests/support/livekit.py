"""Real LiveKit servers (and the Redis of a two-node cluster) on loopback for the tests.

The binary comes from ``tests/e2e/livekit/build.sh`` (built once from the Go module into the
cache) or from ``MEETBRIDGE_LIVEKIT_SERVER``. Each server gets free ports, a fresh API key pair,
``node_ip`` 127.0.0.1 and, when asked, webhooks to a local receiver; the configuration is
meetbridge's own ``LocalServerConfig`` (the one ``make run`` can use), passed in LIVEKIT_CONFIG.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import orjson
import websockets

from meetbridge.engines.livekit.server_config import LocalServerConfig
from tests.support.ports import free_port

BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "e2e" / "livekit" / "build.sh"
SERVER_ENV = "MEETBRIDGE_LIVEKIT_SERVER"


def go_available() -> bool:
    return shutil.which(os.environ.get("GO", "go")) is not None


def find_or_build_server(timeout: float = 1800) -> Path | None:
    """The livekit-server binary: the override, else the cached build (built if Go is here).

    None when there is no binary and no Go to build one; a failing build with Go is an error.
    """
    override = os.environ.get(SERVER_ENV)
    if override:
        return Path(override) if os.access(override, os.X_OK) else None
    # build.sh answers from the cache without needing Go, so it runs even when Go is missing.
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode == 0:
        return Path(result.stdout.strip().splitlines()[-1])
    if not go_available():
        return None
    raise RuntimeError(f"building livekit-server failed:\n{result.stderr[-5000:]}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str

    @classmethod
    def generate(cls) -> ApiKey:
        # LiveKit wants secrets of at least 32 characters outside dev mode.
        return cls("API" + secrets.token_hex(6), secrets.token_urlsafe(32))


@dataclass
class LiveKitServer:
    """One livekit-server process; ``redis_address`` makes it a node of a cluster."""

    binary: Path
    api_key: ApiKey = field(default_factory=ApiKey.generate)
    webhook_urls: tuple[str, ...] = ()
    redis_address: str | None = None
    room_settings: Mapping[str, Any] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    rtc_tcp_port: int = field(default_factory=free_port)
    rtc_udp_port: int = field(default_factory=free_udp_port)
    process: subprocess.Popen[bytes] | None = None
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="meetbridge-lk-")))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "livekit.log"

    def config(self) -> LocalServerConfig:
        return LocalServerConfig(
            api_key=self.api_key.key,
            api_secret=self.api_key.secret,
            http_port=self.http_port,
            rtc_tcp_port=self.rtc_tcp_port,
            rtc_udp_port=self.rtc_udp_port,
            webhook_urls=self.webhook_urls,
            redis_address=self.redis_address,
            room=self.room_settings,
        )

    def start(self, timeout: float = 30.0) -> None:
        config = self.config()
        (self.run_dir / "config.json").write_text(config.body())  # kept for reading a failure
        # Nothing LiveKit-related leaks in from the caller's environment.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary)],
                cwd=self.run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**inherited, **config.environment()},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"livekit-server exited:\n{self.log_tail()}")
            if self.is_up():
                return
            time.sleep(0.1)
        raise RuntimeError(f"livekit-server did not become ready:\n{self.log_tail()}")

    def is_up(self) -> bool:
        # "/" answers 200 "OK" once the node serves signalling and the server API.
        try:
            return httpx2.get(self.url + "/", timeout=1.0).status_code == 200
        except httpx2.HTTPError:
            return False

    @property
    def node_id(self) -> str:
        """This node's id (ND_...), from its start-up log line."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"starting LiveKit server"' in line:
                return str(orjson.loads(line)["nodeID"])
        raise RuntimeError("livekit-server has not logged its node id")

    def log_tail(self, size: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (LiveKit drains its rooms), a second SIGTERM forces it, then SIGKILL."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@dataclass
class RedisServer:
    """Debian's redis-server on a free loopback port, no persistence."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    run_dir: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="meetbridge-redis-"))
    )

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        binary = self.binary()
        assert binary is not None
        with (self.run_dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.run_dir), "--protected-mode", "yes"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "redis-server exited: " + (self.run_dir / "redis.log").read_text()
                )
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float
    answered: int = 200  # the status the receiver answered with


class WebhookReceiver:
    """A tiny HTTP server that records every POST it gets and answers 200.

    ``status_for`` may answer otherwise (to make LiveKit retry, say); it sees each delivery.
    """

    def __init__(self) -> None:
        self.status_for: Callable[[ReceivedWebhook], int] = lambda webhook: 200
        self.received: queue.Queue[ReceivedWebhook] = queue.Queue()
        self._seen: list[ReceivedWebhook] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                webhook = ReceivedWebhook(self.path, headers, body, time.time())
                status = receiver.status_for(webhook)
                receiver.received.put(dataclasses.replace(webhook, answered=status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/livekit/webhook"

    def wait_for(
        self, matches: Callable[[ReceivedWebhook], bool], timeout: float = 15.0, count: int = 1
    ) -> list[ReceivedWebhook]:
        """The first ``count`` webhooks (received so far or before ``timeout``) that match."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                while True:
                    try:
                        self._seen.append(self.received.get_nowait())
                    except queue.Empty:
                        break
                found = [webhook for webhook in self._seen if matches(webhook)]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(found)} of {count} matching webhooks arrived")
            time.sleep(min(0.05, remaining))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SignallingParticipant:
    """A participant that connects LiveKit's signalling WebSocket and nothing else.

    Enough for the server to admit it (token checked, participant created in state JOINED,
    listed by the server API) without WebRTC: no media, and since ICE never completes LiveKit
    sends no ``participant_joined`` webhook for it (``participant_connection_aborted`` when it
    is removed). Use the real-time SDK or a browser where media matters.
    """

    def __init__(self, ws_url: str, token: str) -> None:
        self.url = f"{ws_url}/rtc?access_token={token}&protocol=16&auto_subscribe=1"
        self._connection: websockets.ClientConnection | None = None

    async def __aenter__(self) -> SignallingParticipant:
        self._connection = await websockets.connect(self.url, open_timeout=10)
        await asyncio.wait_for(self._connection.recv(), 10)  # the JoinResponse
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def closed_by_server(self, timeout: float = 10.0) -> bool:
        """Drain signalling messages until the server closes the socket (True) or time runs out."""
        assert self._connection is not None
        deadline = time.monotonic() + timeout
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                await asyncio.wait_for(self._connection.recv(), remaining)
        except websockets.ConnectionClosed:
            return True
        except TimeoutError:
            return False
        return False
