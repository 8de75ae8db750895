"""meetbridge as a real process, the way an admin runs it (``meetbridge serve``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.support.ports import free_port


class ServiceProcess:
    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / "service.log"
        self.env = {
            **os.environ,
            "MEETBRIDGE_DATA_DIR": str(data_dir),
            "MEETBRIDGE_PORT": str(self.port),
            "MEETBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            **env,
        }
        if database_url:
            self.env["MEETBRIDGE_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "meetbridge", *args],
            env=self.env,
            input=input.encode() if input else None,
            capture_output=True,
            check=True,
            timeout=120,
        )
        return result.stdout.decode()

    def credentials(self) -> tuple[str, str]:
        output = self.cli("pexip", "credentials")
        username = re.search(r"Username:\s+(\S+)", output)
        password = re.search(r"Password:\s+(\S+)", output)
        assert username and password, output
        return username.group(1), password.group(1)

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                [sys.executable, "-m", "meetbridge", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"meetbridge exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("meetbridge did not become healthy")

    def kill(self) -> None:
        """kill -9, no chance to flush or say goodbye."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._wait_port_free()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._wait_port_free()

    def _wait_port_free(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx2.get(f"{self.url}/healthz", timeout=0.5)
            except httpx2.HTTPError:
                return
            time.sleep(0.1)
        raise RuntimeError("something still answers on the service port after it was stopped")
