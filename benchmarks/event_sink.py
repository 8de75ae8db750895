"""Event-sink intake: acknowledged events per second, inbox depth, drain time and card writes.

Starts `meetbridge serve` (embedded SQLite in WAL mode with synchronous=FULL, Granian, or
PostgreSQL with ``--database-url``). wrk runs one connection per thread and each thread plays
one Conferencing Node: it numbers its events (seq 1, 2, ...) and sends the next only after the
previous was answered, as Infinity does. Every 200 means the event was committed to disk.

Two shapes:

* ``friendly``: each node's participant joins and leaves an empty meeting (one person for a
  moment), without Mattermost.
* ``busy``: the top of the hour. Each node hosts a meeting already in progress (20 to 200
  people, joined by one bulk envelope before the run) and sends 40% joins, 40% leaves and 20%
  ``participant_updated`` (mute changes); the host stays throughout; Mattermost (the REST stand-in over HTTP, as in
  benchmarks/policy.py) answers the card posts, so the outbox works as in production.

After each run the benchmark checks that the inbox holds every acknowledged event, reports the
deepest inbox seen during the run, how long the applier takes to drain it, and (busy) how many
card writes Mattermost received per meeting per second. Every run also drives nginx, answering
the same POSTs with the same bytes, for the ceiling of this machine at that moment.

    uv run python -m benchmarks.event_sink [--shape friendly busy] [--nodes 32 64] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx2
import orjson
from sqlalchemy import func, select
from tests.support.infinity import InfinityNode
from tests.support.mattermost_http import ChatWrites, serve_standin
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.service_process import ServiceProcess

from benchmarks.common import WrkResult, run_wrk, scratch_service
from benchmarks.nginx import NginxCeiling
from meetbridge.store.database import open_database
from meetbridge.store.tables import inbox

SINK = "/api/pexip/event_sink"

# Each wrk thread is one node. Events alternate between a participant joining and leaving a
# meetbridge meeting, so the applier does real work for every one of them.
FRIENDLY_LUA = """
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

# Each wrk thread is one node hosting one meeting in progress (its people joined before the
# run, by a bulk envelope of events numbered 1 to size). The node goes on in a cycle of five:
# join, leave, join, leave, update, so the mix is exactly 40/40/20 and the meeting keeps its
# size; who leaves or changes is drawn at random from the people present. The bodies carry the
# fields Infinity sends (about 1 KB), not a minimal subset.
BUSY_LUA = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local FIELDS = '"call_id":"call-%s","conversation_id":"%s","related_uuids":[],"service_type":"conference","service_tag":"mattermost:%s","call_direction":"in","destination_alias":"matt-%s","source_alias":"guest@example.com","is_client_muted":false,"is_presenting":false,"is_streaming":false,"is_idp_authenticated":false,"encryption":"On","rx_bandwidth":1024,"tx_bandwidth":1024,"remote_address":"198.51.100.7","vendor":"Chrome","system_location":"Oslo","media_node":"%s","signalling_node":"%s"'
function init(args)
  auth = args[1]
  local channels, sizes = {}, {}
  for c in string.gmatch(args[2], "[^,]+") do table.insert(channels, c) end
  for s in string.gmatch(args[3], "[^,]+") do table.insert(sizes, tonumber(s)) end
  channel = channels[id]
  node = "10.88." .. id .. "." .. args[4]
  size = sizes[id]
  present = {}
  for k = 1, size do present[k] = node .. "-p" .. k end
  joined = size
  seq = size
  math.randomseed(id * 7919 + tonumber(args[4]))
end
local function participant(uuid)
  return string.format(FIELDS, uuid, uuid, channel, channel, node, node)
end
request = function()
  seq = seq + 1
  local step = (seq - size) % 5
  local event, data
  if step == 1 or step == 3 or #present == 0 then
    joined = joined + 1
    local uuid = node .. "-p" .. joined
    table.insert(present, uuid)
    event = "participant_connected"
    data = string.format('{"uuid":"%s","conference":"matt-%s",%s,"display_name":"Guest %d","role":"guest","protocol":"WebRTC","has_media":true,"is_muted":false,"call_tag":"","connect_time":%f}', uuid, channel, participant(uuid), joined, os.time())
  elseif step == 2 or step == 4 then
    local k = #present > 1 and math.random(2, #present) or 1  -- the chair (first) stays
    local uuid = present[k]
    present[k] = present[#present]
    table.remove(present)
    event = "participant_disconnected"
    data = string.format('{"uuid":"%s","conference":"matt-%s",%s,"is_muted":false,"disconnect_reason":"Call disconnected","duration":30.0}', uuid, channel, participant(uuid))
  else
    local uuid = present[math.random(#present)]
    event = "participant_updated"
    data = string.format('{"uuid":"%s","conference":"matt-%s",%s,"display_name":"Guest","role":"guest","protocol":"WebRTC","has_media":true,"is_muted":%s}', uuid, channel, participant(uuid), math.random(2) == 1 and "true" or "false")
  end
  local body = string.format('{"node":"%s","seq":%d,"version":2,"time":%f,"event":"%s","data":%s}', node, seq, os.time() + seq / 1000000, event, data)
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


def gauge(service: ServiceProcess, name: str) -> float:
    metrics = httpx2.get(f"{service.url}/metrics", timeout=10).text
    line = next(line for line in metrics.splitlines() if line.startswith(f"{name} "))
    return float(line.split()[1])


def wait_drained(service: ServiceProcess, timeout: float = 600.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if gauge(service, "meetbridge_inbox_depth") <= 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError("inbox did not drain")


def wait_outbox_empty(service: ServiceProcess, timeout: float = 120.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if gauge(service, "meetbridge_outbox_backlog") <= 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError("outbox did not empty")


@contextmanager
def deepest_inbox(service: ServiceProcess) -> Iterator[list[float]]:
    """Samples the inbox depth every 0.2 s while the block runs; yields [max seen]."""
    deepest = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            with suppress(httpx2.HTTPError, StopIteration):
                deepest[0] = max(deepest[0], gauge(service, "meetbridge_inbox_depth"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield deepest
    finally:
        done.set()
        sampler.join()


@dataclass
class Run:
    shape: str
    nodes: int
    result: WrkResult
    ceiling: WrkResult
    deepest: float
    drain: float
    lost: int
    card_writes: int = 0
    meeting_seconds: float = 0.0


def print_header() -> None:
    print(
        f"{'shape':<9}{'nodes':>6}{'acked/s':>10}{'nginx/s':>10}{'ratio':>7}{'p50 ms':>8}"
        f"{'p99 ms':>8}{'nginx p99':>10}{'non-2xx':>8}{'max depth':>10}{'drain s':>8}"
        f"{'cards/meeting/s':>16}   load"
    )


def print_run(run: Run) -> None:
    lost = "none lost" if run.lost <= 0 else f"LOST {run.lost}"
    cards = f"{run.card_writes / run.meeting_seconds:.2f}" if run.meeting_seconds else "-"
    acked = run.result.requests_per_second * (1 - run.result.non_2xx / max(run.result.requests, 1))
    print(
        f"{run.shape:<9}{run.nodes:>6}{acked:>10,.0f}{run.ceiling.requests_per_second:>10,.0f}"
        f"{acked / run.ceiling.requests_per_second:>7.2f}{run.result.p50_ms:>8.2f}"
        f"{run.result.p99_ms:>8.2f}{run.ceiling.p99_ms:>10.2f}{run.result.non_2xx:>8}"
        f"{run.deepest:>10,.0f}{run.drain:>8.2f}{cards:>16}   {load()}  {lost}"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def meeting_sizes(nodes: int, smallest: int, largest: int) -> list[int]:
    """Meeting sizes spread evenly from ``smallest`` to ``largest`` over the nodes."""
    if nodes == 1:
        return [largest]
    return [smallest + (largest - smallest) * i // (nodes - 1) for i in range(nodes)]


def fill_meetings(
    service: ServiceProcess, authorization: str, run: int, channels: list[str], sizes: list[int]
) -> None:
    """Each node's meeting, in progress: its people join in one bulk envelope (seq 1)."""
    with httpx2.Client(timeout=60, headers={"Authorization": authorization}) as http:
        for index, (channel, size) in enumerate(zip(channels, sizes, strict=True), start=1):
            node = InfinityNode(f"10.88.{index}.{run}")
            conference, tag = f"matt-{channel}", f"mattermost:{channel}"
            joins = [
                node.participant_connected(
                    conference,
                    tag,
                    uuid=f"{node.ip}-p{k}",
                    display_name=f"Guest {k}",
                    role="chair" if k == 1 else "guest",  # one host, who stays
                )
                for k in range(1, size + 1)
            ]
            envelope = node.bulk(joins)
            for k, item in enumerate(envelope["data"], start=1):
                item["seq"] = k  # the node's first events; wrk goes on from size + 1
                item["time"] = time.time() + k / 1_000_000
            response = http.post(service.url + SINK, content=orjson.dumps(envelope))
            assert response.status_code == 200, response.text


def ceiling(seconds: int, nodes: int, script: Path, *args: str) -> WrkResult:
    with NginxCeiling({SINK: b"{}"}) as nginx:
        return run_wrk(nginx.url + SINK, nodes, nodes, seconds, script, *args)


def friendly_run(
    service: ServiceProcess,
    database_url: str,
    authorization: str,
    nodes: int,
    seconds: int,
    run: int,
) -> Run:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(FRIENDLY_LUA)
    args = (authorization, f"r{run}")
    before = inbox_rows(database_url)
    with deepest_inbox(service) as deepest:
        result = run_wrk(service.url, nodes, nodes, seconds, script, *args)
    drain = wait_drained(service)
    stored = inbox_rows(database_url) - before
    top = ceiling(seconds, nodes, script, *args)
    # wrk counts answered requests; every 2xx among them must be in the inbox.
    return Run(
        "friendly", nodes, result, top, deepest[0], drain, result.requests - result.non_2xx - stored
    )


@dataclass
class BusyHour:
    service: ServiceProcess
    database_url: str
    authorization: str
    standin: MattermostStandIn
    writes: ChatWrites
    smallest: int
    largest: int

    def run(self, nodes: int, seconds: int, run: int) -> Run:
        channels = [f"bh{run:03d}{i:03d}" + "c" * 18 for i in range(1, nodes + 1)]
        for channel in channels:
            template = self.standin.channels[self.standin.add_channel(f"Busy {channel[:8]}")]
            self.standin.channels[channel] = {**template, "id": channel}
        sizes = meeting_sizes(nodes, self.smallest, self.largest)
        fill_meetings(self.service, self.authorization, run, channels, sizes)
        wait_drained(self.service)
        wait_outbox_empty(self.service)
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(BUSY_LUA)
        args = (self.authorization, ",".join(channels), ",".join(map(str, sizes)), str(run))
        before, cards_before = inbox_rows(self.database_url), self.writes.snapshot()
        started = time.monotonic()
        with deepest_inbox(self.service) as deepest:
            result = run_wrk(self.service.url, nodes, nodes, seconds, script, *args)
        drain = wait_drained(self.service)
        wait_outbox_empty(self.service)
        elapsed = time.monotonic() - started
        cards = self.writes.snapshot() - cards_before
        stored = inbox_rows(self.database_url) - before
        top = ceiling(seconds, nodes, script, *args)
        return Run(
            "busy",
            nodes,
            result,
            top,
            deepest[0],
            drain,
            result.requests - result.non_2xx - stored,
            card_writes=cards["post.create"] + cards["post.patch"],
            meeting_seconds=nodes * elapsed,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shape", nargs="+", choices=["friendly", "busy"], default=["friendly", "busy"]
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--smallest", type=int, default=20, help="people in the smallest meeting")
    parser.add_argument("--largest", type=int, default=200, help="people in the largest meeting")
    parser.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite)")
    parser.add_argument(
        "--postgres", action="store_true", help="start a scratch PostgreSQL server and use it"
    )
    args = parser.parse_args()
    if args.postgres:
        with scratch_postgres() as url:
            args.database_url = url
            bench(args)
    else:
        bench(args)


@contextmanager
def scratch_postgres() -> Iterator[str]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit(
            "PostgreSQL is needed for --postgres: scripts/install-system-deps.sh postgresql"
        )
    server = PostgresServer(bin_dir)
    server.start()
    try:
        server.wait_ready()
        yield server.create_database("bench")
    finally:
        server.stop()


def bench(args: argparse.Namespace) -> None:

    standin, writes = MattermostStandIn(), ChatWrites()
    mattermost_port = free_port()
    serve_standin(standin, mattermost_port, writes)
    service = scratch_service(
        MEETBRIDGE_LOG_LEVEL="warning",
        MEETBRIDGE_MATTERMOST_URL=f"http://127.0.0.1:{mattermost_port}",
        MEETBRIDGE_MATTERMOST_TOKEN="bench",
        **({"MEETBRIDGE_DATABASE_URL": args.database_url} if args.database_url else {}),
    )
    database_url = args.database_url or f"sqlite:///{service.data_dir / 'meetbridge.db'}"
    username, password = service.credentials()
    authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    busy = BusyHour(
        service, database_url, authorization, standin, writes, args.smallest, args.largest
    )
    service.start()
    try:
        store = "PostgreSQL" if args.database_url else "SQLite WAL synchronous=FULL"
        print(
            f"meetbridge event sink, {store}, one wrk thread+connection per node, {args.seconds}s per run"
        )
        print("ceiling: nginx (1 worker) answering the same POSTs with {}, right after each run")
        print_header()
        run = 0
        for shape in args.shape:
            for nodes in args.nodes:
                run += 1
                if shape == "friendly":
                    print_run(
                        friendly_run(service, database_url, authorization, nodes, args.seconds, run)
                    )
                else:
                    print_run(busy.run(nodes, args.seconds, run))
    finally:
        service.stop()


if __name__ == "__main__":
    main()
