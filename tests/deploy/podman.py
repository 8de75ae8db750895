"""Podman for the deployment tests: root, this machine's containers.conf, no registry.

Images come from the base that ``base-image.sh`` makes with mmdebstrap; containers use the
host's network (loopback addresses only, as everything else in the suite).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONTAINERS_CONF = HERE / "containers.conf"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **(extra or {})}


def available() -> bool:
    return (
        os.geteuid() == 0
        and shutil.which("podman") is not None
        and shutil.which("mmdebstrap") is not None
    )


def podman(
    *args: str, check: bool = True, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def script(
    path: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 1200.0
) -> str:
    """Run one of the build scripts; returns its last stdout line (what it made)."""
    result = subprocess.run(
        ["bash", str(path), *args],
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{path.name} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result.stdout.strip().splitlines()[-1]


def base_image() -> str:
    return script(HERE / "base-image.sh")


def meetbridge_image(base: str, tag: str = "localhost/meetbridge:test") -> str:
    return script(ROOT / "deploy" / "tools" / "build-image.sh", tag, env={"BASE": base})


def remove_container(name: str) -> None:
    podman("rm", "--force", "--time", "0", name, check=False)


def run_detached(name: str, image: str, args: Sequence[str], command: Sequence[str] = ()) -> None:
    remove_container(name)
    podman("run", "--detach", "--name", name, *args, image, *command)


def logs(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr
