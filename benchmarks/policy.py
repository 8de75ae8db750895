"""Policy answers per second and latency, over loopback, at fixed concurrency.

Starts `meetbridge serve` (embedded SQLite, Granian) with a Mattermost REST stand-in, warms the
channel cache, then drives service-configuration requests for 200 channels (and, separately,
participant-properties requests, each with a valid call tag) with wrk. Load generator and
service share this machine, so every run also drives nginx (one worker) answering the same
request with the same bytes: figures are read as ratios to that ceiling, measured in the same run.

    uv run python -m benchmarks.policy [--seconds 10] [--connections 16 32 64]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx2
from tests.support.infinity import InfinityNode
from tests.support.mattermost_http import serve_standin
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.ports import free_port

from benchmarks.common import run_wrk, scratch_service
from benchmarks.nginx import NginxCeiling
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
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 32, 64])
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
        answers: dict[str, bytes] = {}
        with httpx2.Client(headers={"Authorization": authorization}) as http:
            for path in service_paths + participant_paths:  # warm the caches, check the answers
                response = http.get(service.url + path)
                assert response.status_code == 200, response.text
                answers.setdefault(path.split("?")[0], response.content)
        print(
            f"meetbridge policy server, {CHANNELS} channels, wrk over loopback, {args.seconds}s per run"
        )
        print(
            f"{'request':<24}{'conns':>6}{'answers/s':>11}{'nginx/s':>9}{'ratio':>7}{'p50 ms':>8}"
            f"{'p99 ms':>8}{'nginx p99':>10}{'p99 x':>7}{'non-2xx':>8}   load"
        )
        for name, paths in (
            ("service_configuration", service_paths),
            ("participant_properties", participant_paths),
        ):
            script = write_script(paths, authorization)
            run_wrk(base, 16, 1, 2, script)  # warm-up
            for connections in args.connections:
                result = run_wrk(base, connections, 1, args.seconds, script)
                with NginxCeiling(answers) as nginx:
                    top = run_wrk(
                        nginx.url + "/api/pexip/policy/v1", connections, 1, args.seconds, script
                    )
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(
                    f"{name:<24}{connections:>6}{result.requests_per_second:>11,.0f}"
                    f"{top.requests_per_second:>9,.0f}"
                    f"{result.requests_per_second / top.requests_per_second:>7.2f}"
                    f"{result.p50_ms:>8.2f}{result.p99_ms:>8.2f}{top.p99_ms:>10.2f}"
                    f"{result.p99_ms / top.p99_ms:>7.1f}{result.non_2xx + top.non_2xx:>8}   {load}"
                )
    finally:
        service.stop()


if __name__ == "__main__":
    main()
