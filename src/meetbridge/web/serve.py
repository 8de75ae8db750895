"""Running the application: Granian (default) or uvicorn, one application process.

One application process on purpose: the embedded SQLite database has a single writer, and the
event applier and caches live in the process. Scale out with several instances on PostgreSQL.

Granian runs the app in a worker process it supervises (its HTTP core then gets the spare CPU,
which roughly doubles policy throughput, see benchmarks/). The worker asks the kernel to kill it
when its supervisor dies, so ``kill -9`` of ``meetbridge serve`` never leaves an orphan holding
the port or the database.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from meetbridge.config import ServiceConfig, load_config
from meetbridge.core import load_master_key, load_metrics_token
from meetbridge.log_setup import configure_logging, granian_log_config
from meetbridge.web.app import MeetbridgeApp, create_app

_PR_SET_PDEATHSIG = 1
# The Granian worker reads the configuration the CLI resolved from these variables.
_ENV_OVERRIDES = {"host": "MEETBRIDGE_HOST", "port": "MEETBRIDGE_PORT"}


def serve_forever(config: ServiceConfig) -> None:
    # Refuse bad key or token settings here, with a clear message, not in Granian's worker.
    load_master_key(config)
    load_metrics_token(config)
    if config.server == "uvicorn":
        _uvicorn(config)
    else:
        _granian(config)


def _uvicorn(config: ServiceConfig) -> None:
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


def _granian(config: ServiceConfig) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    for field, variable in _ENV_OVERRIDES.items():
        os.environ[variable] = str(getattr(config, field))
    os.environ["MEETBRIDGE_SUPERVISOR_PID"] = str(os.getpid())
    Granian(
        "meetbridge.web.serve:worker_application",
        factory=True,
        address=config.host,
        port=config.port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        log_access=False,
        log_dictconfig=granian_log_config(config.log_format),
        backlog=2048,
    ).serve()


def worker_application() -> MeetbridgeApp:
    """Factory Granian calls in its worker process."""
    _die_with_supervisor()
    config = load_config()
    configure_logging(config.log_level, config.log_format)
    return create_app(config)


def _die_with_supervisor() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The supervisor may have died before prctl took effect.
    supervisor = os.environ.get("MEETBRIDGE_SUPERVISOR_PID")
    if supervisor and os.getppid() != int(supervisor):
        os._exit(1)
