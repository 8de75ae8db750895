"""Policy answers per second and latency, over loopback, at fixed concurrency.

Starts `meetbridge serve` (embedded SQLite, Granian) with a Mattermost REST stand-in, warms the
channel cache, then drives service-configuration requests for 200 channels (and, separately,
participant-properties requests) with wrk. Load generator and service share this machine.

    uv run python -m benchmarks.policy [--seconds 10] [--connections 16 32 64]
"""

from __future__ import annotations

import argparse
import base64
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx2
from tests.support.infinity import InfinityNode
from tests.support.mattermost_http import serve_standin
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.ports import free_port

from benchmarks.common import run_wrk, scratch_service
from meetbridge.crypto import Signer, decode_master_key, derive_key
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId

CHANNELS = 200

LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "%s"})
end
"""


def write_script(paths: list[str], authorization: str) -> Path:
    quoted = ",".join(f'"{p}"' for p in paths)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA % (quoted, authorization))
    return script


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 32])
    args = parser.parse_args()

    standin = MattermostStandIn()
    channels = [standin.add_channel(f"Channel {i}") for i in range(CHANNELS)]
    users = [standin.add_user(f"user{i}", first="User", last=str(i)) for i in range(CHANNELS)]
    mattermost_port = free_port()
    serve_standin(standin, mattermost_port)
    key = base64.b64encode(bytes(range(32))).decode()
    service = scratch_service(
        MEETBRIDGE_MATTERMOST_URL=f"http://127.0.0.1:{mattermost_port}",
        MEETBRIDGE_MATTERMOST_TOKEN="bench",
        MEETBRIDGE_SECRET_KEY=key,
        MEETBRIDGE_LOG_LEVEL="warning",
    )
    username, password = service.credentials()
    authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    node = InfinityNode("10.20.0.11")
    base = f"{service.url}/api/pexip/policy/v1"
    service_paths = [
        "/api/pexip/policy/v1/service/configuration?"
        + urlencode(node.service_configuration(f"matt-{c}"))
        for c in channels
    ]
    signer = Signer(derive_key(decode_master_key(key), "meetbridge/call-tags"))
    participant_paths = [
        "/api/pexip/policy/v1/participant/properties?"
        + urlencode(
            node.participant_properties(
                f"matt-{c}",
                f"mattermost:{c}",
                call_tag=make_call_tag(signer, ChannelId(c), UserId(u)),
            )
        )
        for c, u in zip(channels, users, strict=True)
    ]
    service.start()
    try:
        with httpx2.Client(headers={"Authorization": authorization}) as http:
            for path in service_paths + participant_paths:  # warm the caches, check the answers
                response = http.get(service.url + path)
                assert response.status_code == 200, response.text
        print(
            f"meetbridge policy server, {CHANNELS} channels, wrk over loopback, {args.seconds}s per run"
        )
        print(
            f"{'request':<24}{'conns':>6}{'answers/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        )
        for name, paths in (
            ("service_configuration", service_paths),
            ("participant_properties", participant_paths),
        ):
            script = write_script(paths, authorization)
            run_wrk(base, 16, 1, 2, script)  # warm-up
            for connections in args.connections:
                result = run_wrk(base, connections, 1, args.seconds, script)
                print(
                    f"{name:<24}{connections:>6}{result.requests_per_second:>12,.0f}"
                    f"{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}{result.non_2xx:>9}"
                )
    finally:
        service.stop()


if __name__ == "__main__":
    main()
