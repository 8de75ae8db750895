"""The REST stand-in of mattermost_standin.py served over real HTTP, for out-of-process services.

Benchmarks use it so that the policy server's channel and user look-ups cross a real socket.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from tests.support.mattermost_standin import MattermostStandIn


def serve_standin(standin: MattermostStandIn, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            table = {"channels": standin.channels, "users": standin.users}
            found = None
            if len(parts) == 4 and parts[:2] == ["api", "v4"] and parts[2] in table:
                found = table[parts[2]].get(parts[3])
            body = orjson.dumps(
                found or {"id": "app.not_found", "message": "not found", "status_code": 404}
            )
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
