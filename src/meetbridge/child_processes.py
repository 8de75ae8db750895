"""What meetbridge's child processes inherit, and how meeting content is written to disk.

The recorder, the captioner, the transcription worker and the ffmpeg/ffprobe they run decode
media that meeting participants sent: untrusted input. A child taken over through a decoder must
not find meetbridge's secrets (``MEETBRIDGE_SECRET_KEY``, the bot's token, a database password in
``MEETBRIDGE_DATABASE_URL``, LiveKit's secret, whatever else the service was started with) in its
environment, so each gets only the variables a program needs to run (``child_environment``);
what a child needs from meetbridge comes in its job, on stdin.

Recordings, speakers' tracks and transcripts are the meeting's content: owner-only (files 0600,
directories 0700) whatever umask meetbridge was started with. Children set ``OWNER_ONLY`` as
their umask first thing (``owner_only``), so what they and their ffmpeg create is private too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

OWNER_ONLY = 0o077  # a umask: no access for group or others
PRIVATE_FILE, PRIVATE_DIRECTORY = 0o600, 0o700

# What a Python program, ffmpeg and the TLS stack need to start and find their files; nothing
# meetbridge's own configuration reads (every MEETBRIDGE_* stays behind).
KEPT = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def child_environment(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a child process gets: only the KEPT variables of ``environment``
    (meetbridge's own, by default)."""
    source = os.environ if environment is None else environment
    return {name: source[name] for name in KEPT if name in source}


def owner_only() -> None:
    """First thing in a child's main: whatever it and its own children create is private."""
    os.umask(OWNER_ONLY)


def private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) with the directory itself owner-only; a directory
    that already exists keeps its mode (an admin may have chosen it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIRECTORY)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_DIRECTORY)  # mkdir's mode is filtered by the umask: state it


def write_private_text(path: Path, text: str) -> None:
    """Write ``path`` (replacing it) readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(descriptor, PRIVATE_FILE)  # an existing file keeps its mode otherwise
        file.write(text)
