"""``make run``: meetbridge with a LiveKit of its own, on loopback, for trying it out.

Starts the livekit-server binary given on the command line (built once by
tests/e2e/livekit/build.sh) with a key pair kept in the data directory (mode 0600), webhooks to
this meetbridge and rooms created only by meetbridge; then ``meetbridge serve`` with
MEETBRIDGE_LIVEKIT_* pointing at it. The secret travels in environment variables, never on a
command line. A deployment that sets MEETBRIDGE_LIVEKIT_URL itself gets no local server.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

from meetbridge.config import load_config
from meetbridge.engines.livekit.server_config import LocalServerConfig

KEYS_FILE = "livekit-dev-keys.json"


def dev_keys(data_dir: Path) -> tuple[str, str]:
    """The local server's API key pair, generated on first use and kept for the next run."""
    path = data_dir / KEYS_FILE
    if path.exists():
        stored = orjson.loads(path.read_bytes())
        return str(stored["key"]), str(stored["secret"])
    data_dir.mkdir(parents=True, exist_ok=True)
    key, secret = "API" + secrets.token_hex(6), secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps({"key": key, "secret": secret}))
    return key, secret


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start_livekit(
    binary: Path, data_dir: Path, webhook_url: str
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    key, secret = dev_keys(data_dir)
    config = LocalServerConfig(
        api_key=key,
        api_secret=secret,
        webhook_urls=(webhook_url,),
        room={"auto_create": False},
    )
    if not _port_free(config.http_port):
        raise SystemExit(f"port {config.http_port} is taken: is another LiveKit running?")
    log = (data_dir / "livekit.log").open("ab")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    process = subprocess.Popen(  # noqa: S603 (the binary make run built, no shell)
        [str(binary)], env={**inherited, **config.environment()}, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while _port_free(config.http_port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"livekit-server did not start; see {data_dir / 'livekit.log'}")
        time.sleep(0.1)
    env = {
        "MEETBRIDGE_LIVEKIT_URL": f"ws://127.0.0.1:{config.http_port}",
        "MEETBRIDGE_LIVEKIT_API_KEY": key,
        "MEETBRIDGE_LIVEKIT_API_SECRET": secret,
    }
    return process, env


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that the local LiveKit is stopped with meetbridge


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    config = load_config()
    binary = Path(argv[0]) if argv and argv[0] else None
    extra: dict[str, str] = {}
    livekit = None
    if os.environ.get("MEETBRIDGE_LIVEKIT_URL") or binary is None or not binary.exists():
        print("meetbridge: no local LiveKit (none built, or MEETBRIDGE_LIVEKIT_URL is set)")
    else:
        webhook = f"{config.effective_public_url}/api/livekit/webhook"
        livekit, extra = start_livekit(binary, config.data_dir, webhook)
        print(f"meetbridge: local LiveKit at {extra['MEETBRIDGE_LIVEKIT_URL']} (dev keys in "
              f"{config.data_dir / KEYS_FILE})")  # fmt: skip
    serve = subprocess.Popen(
        [sys.executable, "-m", "meetbridge.cli", "serve"], env={**os.environ, **extra}
    )
    try:
        return serve.wait()
    except KeyboardInterrupt:
        serve.send_signal(signal.SIGINT)
        return serve.wait()
    finally:
        if livekit is not None:
            livekit.terminate()
            try:
                livekit.wait(timeout=15)
            except subprocess.TimeoutExpired:
                livekit.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
