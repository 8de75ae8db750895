"""The companion plugin's Go unit tests (signatures, routes, settings), run as part of pytest so
that ``make test`` and CI cannot skip them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.requirements import require

PLUGIN_SERVER = Path(__file__).resolve().parents[2] / "plugin" / "server"

pytestmark = pytest.mark.slow


def test_the_plugins_go_unit_tests_pass() -> None:
    go = shutil.which("go")
    require(go is not None, "Go (to test the companion plugin)")
    assert go is not None
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-modcacherw -buildvcs=false"}
    run = subprocess.run(
        [go, "test", "-count=1", "./..."],
        cwd=PLUGIN_SERVER,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"go test failed:\n{run.stdout}\n{run.stderr}"
    assert "ok" in run.stdout
