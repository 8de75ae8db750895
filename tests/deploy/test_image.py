"""The meetbridge image (deploy/Containerfile), built from the locally made Debian base.

It runs as an unprivileged user on a read-only root file system, answers /healthz (also as its
own HEALTHCHECK), migrates only when asked, and stops on SIGTERM without losing an event that
Infinity was told was stored. The wheel inside installs with ``uv tool install`` from files.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from meetbridge.crypto import generate_master_key
from tests.deploy import podman
from tests.support.infinity import InfinityNode, SinkPublisher, basic_auth
from tests.support.ports import free_port

pytestmark = pytest.mark.slow
USER = 10001  # the image's numeric user (deploy/Containerfile)


@dataclass
class Service:
    """One meetbridge container on the host's network, its data in a directory of the test."""

    name: str
    image: str
    data: Path
    key_file: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def options(self) -> list[str]:
        return [
            "--network=host",
            "--read-only",
            f"--volume={self.data}:/var/lib/meetbridge",
            f"--volume={self.key_file}:/run/meetbridge/secret.key:ro",
            "--env=MEETBRIDGE_SECRET_KEY_FILE=/run/meetbridge/secret.key",
            "--env=MEETBRIDGE_HOST=127.0.0.1",
            f"--env=MEETBRIDGE_PORT={self.port}",
        ]

    def command(self, *args: str) -> str:
        """``meetbridge ARGS`` in a throw-away container on the same data and key."""
        run = podman.podman("run", "--rm", *self.options(), self.image, *args, check=False)
        assert run.returncode == 0, run.stderr
        return run.stdout

    def start(self) -> None:
        podman.run_detached(self.name, self.image, self.options())
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"meetbridge did not answer /healthz:\n{podman.logs(self.name)}")


@pytest.fixture
def service(meetbridge_image: str, tmp_path: Path) -> Iterator[Service]:
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, USER, USER)
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(base64.b64encode(generate_master_key()))
    key_file.chmod(0o400)
    os.chown(key_file, USER, USER)
    name = f"mb-image-test-{os.getpid()}"
    yield Service(name, meetbridge_image, data, key_file, free_port())
    podman.remove_container(name)


def test_runs_unprivileged_on_a_read_only_root_and_answers_healthz(service: Service) -> None:
    assert "database schema is current" in service.command("migrate")
    service.start()
    assert podman.podman("exec", service.name, "id", "-u").stdout.strip() == str(USER)
    for path in ("/opt/meetbridge/tampered", "/etc/tampered", "/var/lib/tampered"):
        touched = podman.podman("exec", service.name, "touch", path, check=False)
        assert touched.returncode != 0 and "Read-only file system" in touched.stderr, path
    answer = httpx2.get(f"{service.url}/healthz", timeout=5.0)
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "database": "ok"}
    healthcheck = podman.podman(
        "image", "inspect", "--format", "{{.Config.Healthcheck.Test}}", service.image
    )
    assert "meetbridge.healthcheck" in healthcheck.stdout
    assert podman.podman("healthcheck", "run", service.name, check=False).returncode == 0
    # The server's own process is the unprivileged user too, not only `podman exec`'s.
    processes = podman.podman("top", service.name, "user", "args").stdout
    assert "meetbridge serve" in processes
    assert all(
        line.split()[0] in ("meetbridge", str(USER))
        for line in processes.splitlines()[1:]
        if line.strip()
    ), processes


def test_sigterm_during_an_event_burst_loses_no_acknowledged_event(service: Service) -> None:
    """Six nodes post events one at a time, as Infinity does, retrying until answered 2xx; the
    container is stopped (SIGTERM) mid-burst and started again. Every event ends up stored
    and applied exactly once."""
    service.command("migrate")
    credentials = dict(
        line.split(":", 1) for line in service.command("pexip", "credentials").splitlines()
    )
    auth = basic_auth(credentials["Username"].strip(), credentials["Password"].strip())
    service.start()
    nodes = [InfinityNode(ip=f"192.0.2.{n}") for n in range(1, 7)]
    per_node = 150
    outcome = asyncio.run(_burst_with_restart(service, nodes, auth, per_node))
    assert outcome.stop_status == 0, podman.logs(service.name)
    assert outcome.acknowledged_before_stop > 0, "the stop came before the burst"
    assert outcome.acknowledged == len(nodes) * per_node
    stored = _stored_events(service.data / "meetbridge.db")
    sent = {(node.ip, envelope["seq"]) for node in nodes for envelope in node.sent}
    once = [key for key, outcome_ in stored if outcome_ != "duplicate"]
    assert sorted(once) == sorted(sent), "an event was lost or applied twice"
    assert all(outcome_ is not None and outcome_ != "failed" for _, outcome_ in stored)


@dataclass
class BurstOutcome:
    stop_status: int
    acknowledged_before_stop: int
    acknowledged: int


async def _burst_with_restart(
    service: Service, nodes: list[InfinityNode], auth: dict[str, str], per_node: int
) -> BurstOutcome:
    url = f"{service.url}/api/pexip/event_sink"
    async with httpx2.AsyncClient(timeout=10.0) as http:
        publishers = [SinkPublisher(http, url, auth, 0.05, 3000) for _ in nodes]
        tasks = [
            asyncio.create_task(publisher.deliver(_events(node, per_node)))
            for node, publisher in zip(nodes, publishers, strict=True)
        ]
        while sum(len(p.acknowledged) for p in publishers) < per_node:
            await asyncio.sleep(0.02)
        before = sum(len(p.acknowledged) for p in publishers)
        stop = await asyncio.to_thread(podman.podman, "stop", "--time", "30", service.name)
        assert stop.returncode == 0, stop.stderr
        status = podman.podman("inspect", "--format", "{{.State.ExitCode}}", service.name)
        await asyncio.to_thread(podman.podman, "start", service.name)
        await asyncio.to_thread(service.wait_healthy)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        await _wait_applied(service.data / "meetbridge.db")
    return BurstOutcome(
        int(status.stdout.strip()), before, sum(len(p.acknowledged) for p in publishers)
    )


def _events(node: InfinityNode, count: int) -> Iterator[dict[str, Any]]:
    """A conference on this node with people joining and leaving."""
    channel = f"burst{node.ip.replace('.', ''):0>21}"[:26]
    alias, tag = f"matt-{channel}", f"mattermost:{channel}"
    yield node.sink_started()
    yield node.conference_started(alias, tag)
    for n in range(count - 2):
        uuid = f"{node.ip}-{n // 2}"
        if n % 2 == 0:
            yield node.participant_connected(alias, tag, uuid=uuid, display_name=f"Guest {n}")
        else:
            yield node.participant_disconnected(alias, tag, uuid)


def _stored_events(database: Path) -> list[tuple[tuple[str, int], str | None]]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT node, seq, outcome FROM inbox WHERE source = 'pexip'")
        return [((node, seq), outcome) for node, seq, outcome in rows]


async def _wait_applied(database: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            (pending,) = conn.execute(
                "SELECT count(*) FROM inbox WHERE applied_at IS NULL AND failed_at IS NULL"
            ).fetchone()
        if pending == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the restarted meetbridge did not apply the stored events")


def test_the_wheel_installs_with_uv_tool_install_from_files(tmp_path: Path) -> None:
    """What an install without containers does: the wheel and its locked dependencies as files,
    no package index."""
    wheels = tmp_path / "wheels"
    podman.script(podman.ROOT / "deploy" / "tools" / "wheelhouse.sh", str(wheels))
    (wheel,) = wheels.glob("meetbridge-*.whl")
    env = {
        **os.environ,
        "UV_TOOL_DIR": str(tmp_path / "tools"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    install = subprocess.run(
        [os.environ.get("UV") or shutil.which("uv") or "uv", "tool", "install", "--offline", "--no-index",
         "--find-links", str(wheels), str(wheel)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    data = tmp_path / "data"
    migrate = subprocess.run(
        [str(tmp_path / "bin" / "meetbridge"), "migrate"],
        env={**env, "MEETBRIDGE_DATA_DIR": str(data)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    assert "database schema is current" in migrate.stdout
    assert (data / "meetbridge.db").exists()
    packaged = tmp_path / "tools" / "meetbridge"
    assert list(packaged.rglob("static/meeting/meeting.js")), "the meeting page is not packaged"
