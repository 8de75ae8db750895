"""The ceiling every benchmark prints beside its figures: nginx answering the same requests with
the same bytes, from a literal in its configuration, on the same machine in the same run.

One worker process, as meetbridge serves from one process; wrk reports what a static server
reaches under the same load generator, so figures are read as ratios to it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx2
from tests.support.ports import free_port

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 1000000;
  client_max_body_size 16m;
  server {{
    listen 127.0.0.1:{port};
    default_type application/json;
{locations}
  }}
}}
"""


def _literal(body: bytes) -> str:
    text = body.decode()
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class NginxCeiling:
    """``with NginxCeiling({"/api/pexip/event_sink": b"{}"}) as nginx: nginx.url``."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            sys.exit("nginx is needed for the ceiling: apt-get install nginx, or `make bench`")
        self._binary = binary
        self._dir = Path(tempfile.mkdtemp(prefix="meetbridge-nginx-"))
        self.port = free_port()
        locations = "\n".join(
            f"    location = {path} {{ client_body_buffer_size 1m; return 200 {_literal(body)}; }}"
            for path, body in answers.items()
        )
        (self._dir / "nginx.conf").write_text(
            CONFIG.format(dir=self._dir, port=self.port, locations=locations)
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> NginxCeiling:
        self._process = subprocess.Popen(
            [self._binary, "-p", str(self._dir), "-c", str(self._dir / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx2.get(self.url + "/", timeout=0.5)
                return self
            except httpx2.HTTPError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"nginx did not start: {(self._dir / 'error.log').read_text()}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
