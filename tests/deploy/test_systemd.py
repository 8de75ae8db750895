"""The systemd units for installs without containers (deploy/systemd/): systemd's own checks
accept them as they are, and its offline security analysis rates their exposure low
(ProtectSystem=strict, NoNewPrivileges, a dedicated user, no capabilities, a system call
filter). No systemd runs as init here, so the units are checked, not started.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy import podman
from tests.support.livekit import find_or_build_server
from tests.support.requirements import require

UNITS = sorted((podman.ROOT / "deploy" / "systemd").glob("*.service"))
EXPOSURE_LIMIT = "20"  # tenths on systemd's 0-10 exposure scale: at most 2.0 ("OK" is under 2)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file system root with systemd's own units and the programs the units start."""
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian systemd)")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy2(unit, root / "etc/systemd/system" / unit.name)
    meetbridge = shutil.which("meetbridge")
    livekit = find_or_build_server()
    assert meetbridge is not None and livekit is not None
    for source, target in ((meetbridge, "opt/meetbridge/bin/meetbridge"),
                           (str(livekit), "usr/local/bin/livekit-server")):  # fmt: skip
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, root / target)
    return root


def _analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", f"--root={root}", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_systemd_verifies_the_units_without_a_remark(root: Path) -> None:
    checked = _analyze(root, "verify", *(unit.name for unit in UNITS))
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stderr


def test_verify_would_speak_up_about_a_bad_unit(root: Path) -> None:
    """The check above can fail: a misspelt option is reported."""
    broken = root / "etc/systemd/system/broken.service"
    broken.write_text(UNITS[0].read_text().replace("ProtectSystem=", "ProtectSystm="))
    checked = _analyze(root, "verify", "broken.service")
    assert "Unknown key 'ProtectSystm'" in checked.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_the_units_are_hardened(root: Path, unit: Path) -> None:
    text = unit.read_text()
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                    "CapabilityBoundingSet=\n", "User=meetbridge"):  # fmt: skip
        assert setting in text, setting
    rated = _analyze(root, "security", "--offline=yes", f"--threshold={EXPOSURE_LIMIT}", unit.name)
    assert rated.returncode == 0, rated.stdout[-2000:]
    assert "Overall exposure level" in rated.stdout
