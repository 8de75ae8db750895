"""Event-sink intake: sustained and burst POST rates, and the time to drain the inbox.

Starts `meetbridge serve` (embedded SQLite in WAL mode with synchronous=FULL, Granian). wrk runs
one connection per thread and each thread plays one Conferencing Node: it numbers its events
(seq 1, 2, ...) and sends the next only after the previous was answered, as Infinity does.
Every 200 means the event was committed to disk. After each run the benchmark checks that the
inbox holds every acknowledged event, and measures how long the applier takes to drain it.

    uv run python -m benchmarks.event_sink [--nodes 64] [--seconds 10] [--burst-seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
from pathlib import Path

import httpx2
from sqlalchemy import func, select
from tests.support.service_process import ServiceProcess

from benchmarks.common import WrkResult, run_wrk, scratch_service
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox

# Each wrk thread is one node. Events alternate between a participant joining and leaving a
# meetbridge meeting, so the applier does real work for every one of them.
LUA = """
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("node", "10.77." .. math.floor(counter / 250) .. "." .. (counter % 250))
  table.insert(threads, thread)
end
function init(args)
  seq = 0
  auth = args[1]
  run = args[2]
  channel = string.format("bench%05d%016d", counter, 0)
end
request = function()
  seq = seq + 1
  local event, data
  local uuid = node .. "-" .. run .. "-" .. math.floor((seq + 1) / 2)
  if seq % 2 == 1 then
    event = "participant_connected"
    data = string.format('{"uuid":"%s","conference":"matt-%s","service_tag":"mattermost:%s","display_name":"Dana","role":"chair","protocol":"WebRTC","has_media":true,"call_tag":"","connect_time":%f}', uuid, channel, channel, os.time())
  else
    event = "participant_disconnected"
    data = string.format('{"uuid":"%s","conference":"matt-%s","service_tag":"mattermost:%s","disconnect_reason":"bye","duration":1.0}', uuid, channel, channel)
  end
  local body = string.format('{"node":"%s-%s","seq":%d,"version":2,"time":%f,"event":"%s","data":%s}', node, run, seq, os.time() + seq / 1000000, event, data)
  return wrk.format("POST", "/api/pexip/event_sink", {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end
"""


def inbox_rows(database_url: str) -> int:
    async def count() -> int:
        database = open_database(database_url)
        try:
            async with database.read() as conn:
                return int(await conn.scalar(select(func.count()).select_from(inbox)) or 0)
        finally:
            await database.close()

    return asyncio.run(count())


def wait_drained(service: ServiceProcess, timeout: float = 600.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        metrics = httpx2.get(f"{service.url}/metrics").text
        depth = next(
            line for line in metrics.splitlines() if line.startswith("meetbridge_inbox_depth ")
        )
        if float(depth.split()[1]) <= 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError("inbox did not drain")


def report(
    label: str, nodes: int, result: WrkResult, drain: float, stored: int, expected_min: int
) -> None:
    lost = "none lost" if stored >= expected_min else f"LOST {expected_min - stored}"
    print(
        f"{label:<10}{nodes:>6}{result.requests_per_second:>12,.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
        f"{result.requests:>10,}{result.non_2xx:>8}{drain:>10.2f}   {lost}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--burst-seconds", type=int, default=3)
    args = parser.parse_args()

    service = scratch_service(MEETBRIDGE_LOG_LEVEL="warning")
    database_url = f"sqlite:///{service.data_dir / 'meetbridge.db'}"
    username, password = service.credentials()
    authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA)
    service.start()
    try:
        print(
            "meetbridge event sink, SQLite WAL synchronous=FULL, one wrk thread+connection per node"
        )
        print(
            f"{'run':<10}{'nodes':>6}{'POST/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>8}{'drain s':>10}"
        )
        run_number = 0
        for label, seconds in (("sustained", args.seconds), ("burst", args.burst_seconds)):
            for nodes in args.nodes:
                run_number += 1
                before = inbox_rows(database_url)
                result = run_wrk(
                    service.url, nodes, nodes, seconds, script, authorization, f"r{run_number}"
                )
                drain = wait_drained(service)
                stored = inbox_rows(database_url) - before
                # wrk counts answered requests; every 2xx among them must be in the inbox.
                report(label, nodes, result, drain, stored, result.requests - result.non_2xx)
    finally:
        service.stop()


if __name__ == "__main__":
    main()
