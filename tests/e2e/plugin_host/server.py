"""A stand-in for the Mattermost web app, for testing the companion plugin's webapp part in a
real browser (the real web app cannot be built here).

It serves, on its own loopback origin, a host page (host.html, host.js) that provides what
Mattermost's web app gives plugins: ``window.React``/``window.ReactDOM`` (the UMD builds of the
React pinned in plugin/webapp's devDependencies), ``window.registerPlugin`` and the documented
registry calls the plugin uses, and a minimal Redux-like store with the current user and
channel. Every other path goes to the real Mattermost server, WebSocket included, so the page
loads the plugin bundle the server installed (GET /api/v4/plugins/webapp, then /static/…) and
the plugin talks to its real server part as it would in Mattermost: same origin, session
cookie, CSRF token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.ports import free_port

HERE = Path(__file__).resolve().parent
REACT_UMD = HERE.parents[2] / "plugin" / "webapp" / "node_modules"
HOST_FILES = {
    "host.html": HERE / "host.html",
    "host.js": HERE / "host.js",
    "react.js": REACT_UMD / "react" / "umd" / "react.development.js",
    "react-dom.js": REACT_UMD / "react-dom" / "umd" / "react-dom.development.js",
}
# Hop-by-hop headers, and those httpx recomputes, never forwarded as they are.
SKIPPED = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


def host_app(mattermost_url: str, upstream: httpx2.AsyncClient) -> Starlette:

    async def host_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in HOST_FILES:
            return Response("not found", status_code=404)
        return FileResponse(HOST_FILES[name], headers={"Cache-Control": "no-store"})

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIPPED}
        answer = await upstream.request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in SKIPPED]
        kept = [(k, v) for k, v in kept if k.lower() != "content-encoding"]
        response = Response(answer.content, status_code=answer.status_code)
        response.raw_headers = [(k.encode(), v.encode()) for k, v in kept] + [
            (b"content-length", str(len(answer.content)).encode())
        ]
        return response

    async def websocket(client: WebSocket) -> None:
        await client.accept()
        cookie = client.headers.get("cookie", "")
        url = mattermost_url.replace("http://", "ws://") + "/api/v4/websocket"
        async with websockets.connect(url, additional_headers={"Cookie": cookie}) as server:

            async def down() -> None:
                async for message in server:
                    await client.send_text(
                        message if isinstance(message, str) else message.decode()
                    )

            async def up() -> None:
                with contextlib.suppress(WebSocketDisconnect):
                    while True:
                        await server.send(await client.receive_text())

            tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(
        routes=[
            Route("/__host/{name}", host_file),
            WebSocketRoute("/api/v4/websocket", websocket),
            Route("/{path:path}", forward, methods=methods),
        ]
    )


@contextlib.asynccontextmanager
async def serving_host(mattermost_url: str) -> AsyncIterator[str]:
    """The host page's origin (``http://127.0.0.1:<port>``) while it serves."""
    for name, path in HOST_FILES.items():
        assert path.is_file(), f"{name}: {path} is missing (run plugin/build.sh: it runs npm ci)"
    port = free_port()
    upstream = httpx2.AsyncClient(base_url=mattermost_url, timeout=30.0)
    app = host_app(mattermost_url, upstream)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            raise RuntimeError("the plugin host page did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        await upstream.aclose()
