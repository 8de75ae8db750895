"""The REST stand-in of mattermost_standin.py served over real HTTP, for out-of-process services.

Benchmarks and multi-process tests use it so that the policy server's channel and user look-ups,
and the outbox's card posts and custom statuses, cross a real socket. Posts are kept (so that an
outbox retry finds a card an earlier attempt posted, as with Mattermost) and counted; statuses
are only counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.support.mattermost_standin import MattermostStandIn, new_id


class ChatWrites:
    """What the service wrote to the stand-in: card posts created and patched, statuses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.posts: dict[str, list[dict[str, Any]]] = {}  # by channel, oldest first

    def created(self, post: dict[str, Any]) -> None:
        with self._lock:
            self.counts["post.create"] += 1
            self.posts.setdefault(str(post.get("channel_id", "")), []).append(post)

    def listing(self, channel_id: str) -> dict[str, Any]:
        """GET /channels/{id}/posts: newest first, as Mattermost orders them."""
        with self._lock:
            posts = list(reversed(self.posts.get(channel_id, [])))
        return {"order": [p["id"] for p in posts], "posts": {p["id"]: p for p in posts}}

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


def serve_standin(
    standin: MattermostStandIn, port: int, writes: ChatWrites | None = None
) -> ThreadingHTTPServer:
    written = writes if writes is not None else ChatWrites()
    bot = {"id": new_id(), "username": "meetbridge", "is_bot": True, "roles": "system_user"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Mattermost behind its proxy

        def do_GET(self) -> None:
            parts = self._parts()
            if parts == ["api", "v4", "users", "me"]:
                self._answer(200, bot)  # who the outbox posts as
                return
            if parts == ["api", "v4", "users", "me", "teams"]:
                self._answer_list([])  # no slash commands to register
                return
            if len(parts) == 5 and parts[2] == "channels" and parts[4] == "posts":
                self._answer(200, written.listing(parts[3]))  # where a card is looked for
                return
            table = {"channels": standin.channels, "users": standin.users}
            found = None
            if len(parts) == 4 and parts[:2] == ["api", "v4"] and parts[2] in table:
                found = table[parts[2]].get(parts[3])
            self._answer(
                200 if found else 404,
                found or {"id": "app.not_found", "message": "not found", "status_code": 404},
            )

        def do_POST(self) -> None:
            body = self._body()
            if self._parts() == ["api", "v4", "posts"]:
                post = {**body, "id": new_id(), "user_id": bot["id"]}
                written.created(post)
                self._answer(201, post)
                return
            self._answer(404, {"id": "api.context.404.app_error", "status_code": 404})

        def do_PUT(self) -> None:
            body, parts = self._body(), self._parts()
            if len(parts) == 5 and parts[2] == "posts" and parts[4] == "patch":
                written.count("post.patch")
                self._answer(200, {**body, "id": parts[3]})
            elif len(parts) == 6 and parts[2] == "users" and parts[4:] == ["status", "custom"]:
                written.count("status.set")
                self._answer(200, {"status": "OK"})
            else:
                self._answer(404, {"id": "api.context.404.app_error", "status_code": 404})

        def do_DELETE(self) -> None:
            self._body()
            written.count("status.clear")
            self._answer(200, {"status": "OK"})

        def _parts(self) -> list[str]:
            return self.path.split("?")[0].strip("/").split("/")

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                parsed = {}
            return parsed if isinstance(parsed, dict) else {}

        def _answer_list(self, payload: list[Any]) -> None:
            self._send(200, orjson.dumps(payload))

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, orjson.dumps(payload))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
