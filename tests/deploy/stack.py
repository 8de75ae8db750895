"""deploy/compose brought up by the tests, as an admin would, on this machine's loopback.

The stack's directory is a copy of deploy/compose with a ``.env``, the bot's token and the
test CA's certificate for the proxy; ``init.sh`` makes the other secrets. A small second
compose file adds only what the test machine needs and a real one would not: the stack's names
in the containers' /etc/hosts (no DNS here), trust in the test CA, and a proxy route to the
test Mattermost (which in real life has a proxy of its own).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx2

from tests.deploy import podman
from tests.deploy.certificates import StackCA
from tests.support.ports import free_port

DOMAIN = "mb.test"
MEET, LIVEKIT, TURN, CHAT = (f"{n}.{DOMAIN}" for n in ("meet", "livekit", "turn", "chat"))
NAMES = [MEET, LIVEKIT, TURN, CHAT]
SERVICES_IMAGE = "localhost/meetbridge-test-services:latest"
# What calls the stack by its names: meetbridge (its own URL, LiveKit's) and LiveKit (webhooks).
WITH_TEST_NAMES = ("meetbridge", "migrate", "livekit-config", "livekit")


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def services_image(base: str, livekit_binary: Path, context: Path) -> str:
    """postgres, redis, haproxy and livekit-server stand-ins (tests/deploy/services/)."""
    context.mkdir(parents=True, exist_ok=True)
    for item in (podman.HERE / "services").iterdir():
        shutil.copy2(item, context / item.name)
    shutil.copy2(livekit_binary, context / "livekit-server")
    build = podman.podman(
        "build", "--quiet", "--build-arg", f"BASE={base}", "--tag", SERVICES_IMAGE,
        "--file", str(context / "Containerfile"), str(context),
        check=False, timeout=900,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    return SERVICES_IMAGE


@dataclass
class ComposeStack:
    directory: Path
    project: str
    ca: StackCA
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls,
        directory: Path,
        project: str,
        ca: StackCA,
        *,
        meetbridge_image: str,
        services: str,
        mattermost_url: str,
        bot_token: str,
        node_ip: str,
    ) -> ComposeStack:
        shutil.copytree(podman.ROOT / "deploy" / "compose", directory)
        env = {
            "MEETBRIDGE_DOMAIN": MEET,
            "LIVEKIT_DOMAIN": LIVEKIT,
            "TURN_DOMAIN": TURN,
            "MATTERMOST_URL": mattermost_url,
            "MATTERMOST_PUBLIC_URL": f"https://{CHAT}",
            "LIVEKIT_NODE_IP": node_ip,
            "LIVEKIT_RTC_PORTS": "50100-50199",
            "LIVEKIT_RTC_TCP_PORT": str(free_port()),
            "TURN_UDP_PORT": str(free_udp_port()),
            "MEETBRIDGE_PORT": str(free_port()),
            "LIVEKIT_PORT": str(free_port()),
            "TURN_TLS_PORT": str(free_port()),
            "POSTGRES_PORT": str(free_port()),
            "REDIS_PORT": str(free_port()),
            "MEETBRIDGE_IMAGE": meetbridge_image,
            "POSTGRES_IMAGE": services,
            "REDIS_IMAGE": services,
            "LIVEKIT_IMAGE": services,
            "PROXY_IMAGE": services,
        }
        (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        stack = cls(directory, project, ca, env)
        stack._provide(bot_token, mattermost_url)
        return stack

    def _provide(self, bot_token: str, mattermost_url: str) -> None:
        """What the admin provides (token, certificate) and what the test machine needs."""
        (self.directory / "secrets").mkdir(mode=0o700)
        (self.directory / "secrets" / "mattermost_token").write_text(bot_token + "\n")
        (self.directory / "tls").mkdir(mode=0o700)
        shutil.copy2(self.ca.server_pem, self.directory / "tls" / "stack.pem")
        shutil.copy2(self.ca.ca_pem, self.directory / "test-ca.pem")
        self.directory.joinpath("test-ca.pem").chmod(0o644)
        init = subprocess.run(
            ["bash", str(self.directory / "init.sh")], capture_output=True, text=True, check=False
        )
        assert init.returncode == 0, init.stderr
        hosts = [f"{name}:127.0.0.1" for name in NAMES]
        override: dict[str, Any] = {
            name: {
                "extra_hosts": hosts,
                "environment": {"SSL_CERT_FILE": "/etc/meetbridge-test/ca.pem"},
                "volumes": ["./test-ca.pem:/etc/meetbridge-test/ca.pem:ro"],
            }
            for name in WITH_TEST_NAMES
        }
        import orjson  # JSON is YAML

        (self.directory / "compose.test.yaml").write_bytes(orjson.dumps({"services": override}))
        mattermost_port = mattermost_url.rsplit(":", 1)[1]
        proxy = self.directory / "proxy"
        (proxy / "routes.map").write_text(f"{CHAT} mattermost\n")
        (proxy / "test-mattermost.cfg").write_text(
            f"backend mattermost\n    server mattermost 127.0.0.1:{mattermost_port}\n"
        )

    @property
    def public_url(self) -> str:
        return f"https://{MEET}"

    def compose(self, *args: str, timeout: float = 600.0, check: bool = True) -> str:
        result = self.compose_with(args, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman-compose {' '.join(args)} failed:\n{result.stdout[-3000:]!r}\n"
                f"{result.stderr[-5000:]!r}"
            )
        return str(result.stdout)

    def compose_with(
        self,
        args: Sequence[str],
        *,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        timeout: float = 600.0,
    ) -> subprocess.CompletedProcess[Any]:
        """``podman-compose ARGS`` in the stack's directory (binary stdin/stdout when given)."""
        command = [
            str(Path(sys.executable).parent / "podman-compose"),
            "--project-name",
            self.project,
            "-f",
            "compose.yaml",
            "-f",
            "compose.test.yaml",
            *args,
        ]
        return subprocess.run(
            command, cwd=self.directory, env=podman.environment(), stdin=stdin,
            stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
            text=stdin is None and stdout is None, timeout=timeout, check=False,
        )  # fmt: skip

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def exec(
        self, service: str, *command: str, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return podman.podman(
            "exec", self.container(service), *command, check=False, timeout=timeout
        )

    def meetbridge(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.exec("meetbridge", "meetbridge", *args)

    def logs(self, service: str) -> str:
        return podman.logs(self.container(service))

    def up(self, timeout: float = 180.0) -> None:
        self.compose("up", "-d")
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get(MEET, "/healthz").status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(
            "meetbridge did not answer through the proxy:\n"
            + "\n".join(f"--- {s}\n{self.logs(s)[-3000:]}" for s in ("meetbridge", "proxy"))
        )

    def down(self) -> None:
        self.compose("down", "--volumes", check=False, timeout=300)

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca.ca_pem))

    def get(self, name: str, path: str, **kwargs: Any) -> httpx2.Response:
        """GET https://<name><path> through the proxy on 127.0.0.1:443 (no DNS here): the
        name travels as SNI and Host, and the certificate is checked for it."""
        headers = {**kwargs.pop("headers", {}), "Host": name}
        with httpx2.Client(verify=self.tls_context(), timeout=10.0) as http:
            return http.get(
                f"https://127.0.0.1{path}",
                headers=headers,
                extensions={"sni_hostname": name},
                **kwargs,
            )
