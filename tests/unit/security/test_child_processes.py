"""Child processes get a minimal environment and write owner-only files (issue 20, items 7, 8).

The behaviour is proven on a real recorder in tests/integration/test_recording_privacy.py; this
checks the rule itself, and that every place in src/ that starts a process states the
environment (so a new one cannot quietly hand its child meetbridge's secrets)."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "meetbridge"
SPAWNERS = {"create_subprocess_exec", "create_subprocess_shell", "posix_spawn", "Popen", "run"}
# The development launcher starts livekit-server and `meetbridge serve` itself, which must get
# meetbridge's configuration: it is not a child that decodes anyone's media.
EXEMPT = {"devserver.py"}


def test_only_what_a_program_needs_to_run_is_kept() -> None:
    from meetbridge.child_processes import child_environment

    environment = {
        "PATH": "/usr/bin",
        "HOME": "/var/lib/meetbridge",
        "LANG": "C.UTF-8",
        "MEETBRIDGE_SECRET_KEY": "key",
        "MEETBRIDGE_MATTERMOST_TOKEN": "token",
        "MEETBRIDGE_DATABASE_URL": "postgresql://u:password@db/x",
        "MEETBRIDGE_LIVEKIT_API_SECRET": "secret",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "PGPASSWORD": "pg",
        "LIVEKIT_KEYS": "k: s",
    }
    assert child_environment(environment) == {
        "PATH": "/usr/bin",
        "HOME": "/var/lib/meetbridge",
        "LANG": "C.UTF-8",
    }


def _calls_without_env(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name not in SPAWNERS or (name == "run" and "subprocess" not in ast.unparse(node.func)):
            continue
        positional_env = name == "posix_spawn" and len(node.args) >= 3
        if not positional_env and not any(k.arg == "env" for k in node.keywords):
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node.func)}")
        elif positional_env and "child_environment" not in ast.unparse(node.args[2]):
            found.append(f"{path.relative_to(SRC)}:{node.lineno} posix_spawn without it")
    return found


def test_every_process_meetbridge_starts_states_its_environment() -> None:
    offenders = [
        call
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in EXEMPT
        for call in _calls_without_env(path)
    ]
    assert offenders == []


def test_private_files_and_directories_ignore_a_permissive_umask(tmp_path: Path) -> None:
    from meetbridge.child_processes import private_directory, write_private_text

    previous = os.umask(0)
    try:
        directory = tmp_path / "made" / "recordings"
        private_directory(directory)
        private_directory(directory)  # already there: fine
        file = directory / "transcript-1.vtt"
        file.write_text("readable by all")
        os.chmod(file, 0o666)  # noqa: S103 (what an earlier write under umask 0 left)
        write_private_text(file, "WEBVTT\n")
        fresh = directory / "transcript-1.txt"
        write_private_text(fresh, "[0:01] Alice: hello\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(file.stat().st_mode) == 0o600 and file.read_text() == "WEBVTT\n"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
