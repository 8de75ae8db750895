"""A small load balancer in front of several meetbridge replicas: Debian's haproxy."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx2

from tests.support.ports import free_port

CONFIG = """
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 2s
  retries 3
  option redispatch
frontend meetbridge
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /healthz
{servers}
"""


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )


# Tests want a killed replica out of rotation at once; a benchmark must not drop a replica that
# is merely slow to answer its health check under load.
QUICK_CHECKS = "check inter 200ms fall 1 rise 2"
PATIENT_CHECKS = "check inter 1s fall 3 rise 1"


class HaproxyBalancer:
    """Round robin over ``backends`` (ports on loopback), checking their /healthz."""

    def __init__(self, binary: str, backends: list[int], checks: str = QUICK_CHECKS) -> None:
        self.port = free_port()
        self._binary = binary
        self._dir = Path(tempfile.mkdtemp(prefix="meetbridge-haproxy-"))
        servers = "\n".join(
            f"  server r{i} 127.0.0.1:{port} {checks}" for i, port in enumerate(backends)
        )
        (self._dir / "haproxy.cfg").write_text(CONFIG.format(port=self.port, servers=servers))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HaproxyBalancer:
        self._process = subprocess.Popen(
            [self._binary, "-db", "-f", str(self._dir / "haproxy.cfg")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx2.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("haproxy did not start answering")

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
