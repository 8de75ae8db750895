"""The companion plugin's Go unit tests (signatures, routes, settings), go vet and gofmt, run as
part of pytest so that ``make test`` and CI cannot skip them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.requirements import require

PLUGIN_SERVER = Path(__file__).resolve().parents[2] / "plugin" / "server"

pytestmark = pytest.mark.slow


def go(*arguments: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("go")
    require(binary is not None, "Go (to test the companion plugin)")
    assert binary is not None
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-modcacherw -buildvcs=false"}
    return subprocess.run(
        [binary, *arguments],
        cwd=PLUGIN_SERVER,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_plugins_go_unit_tests_pass() -> None:
    run = go("test", "-count=1", "./...")
    assert run.returncode == 0, f"go test failed:\n{run.stdout}\n{run.stderr}"
    assert "ok" in run.stdout


def test_the_plugins_go_code_is_vetted_and_gofmt_clean() -> None:
    vet = go("vet", "./...")
    assert vet.returncode == 0, vet.stderr
    gofmt = shutil.which("gofmt") or str(Path(shutil.which("go") or "go").with_name("gofmt"))
    listed = subprocess.run(
        [gofmt, "-l", "."], cwd=PLUGIN_SERVER, capture_output=True, text=True, check=False
    )
    assert listed.returncode == 0 and listed.stdout == "", f"not gofmt-formatted: {listed.stdout}"
