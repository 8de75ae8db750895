"""Scaling out: 1, 2 and 4 replicas on one PostgreSQL behind haproxy, busy-hour events and
policy answers, each figure beside its ratio to one replica.

For each replica count: a fresh database on a scratch PostgreSQL, N ``meetbridge serve``
processes sharing it (one master key), haproxy (round robin) in front. Then the busy-hour shape
of benchmarks/event_sink.py through haproxy (acknowledged events/s, the time until every event
is applied and every card update delivered), then service-configuration policy requests for
200 channels through haproxy (answers/s). Every run also measures nginx answering the same
requests with the same bytes, directly and through the same haproxy, so the balancer's own cost
shows. One machine runs everything (replicas, PostgreSQL, haproxy, wrk): read the ratios, not
the absolute figures.

With ``--with-applier`` each replica count is measured a second time with one more replica
that takes no traffic and applies the events (MEETBRIDGE_APPLIER_PRIORITY=high), shown as
"N+a": the applier then runs in a process of its own.

    uv run python -m benchmarks.replicas [--replicas 1 2 4] [--with-applier] [--nodes 32]
        [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

import httpx2
from tests.support.backlog import pending_work
from tests.support.haproxy import PATIENT_CHECKS, HaproxyBalancer, find_haproxy
from tests.support.infinity import InfinityNode
from tests.support.mattermost_http import ChatWrites, serve_standin
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.service_process import ServiceProcess

from benchmarks.common import WrkResult, run_wrk
from benchmarks.event_sink import BUSY_LUA, SINK, fill_meetings, inbox_rows, load, meeting_sizes
from benchmarks.nginx import NginxCeiling
from benchmarks.policy import write_script

POLICY = "/api/pexip/policy/v1"
CHANNELS = 200
KEY = base64.b64encode(bytes(range(32))).decode()


@dataclass
class Figures:
    replicas: str
    events: WrkResult
    events_ceiling: WrkResult
    events_via_haproxy: WrkResult
    drain: float
    delivered: float
    lost: int
    policy: WrkResult
    policy_ceiling: WrkResult
    policy_via_haproxy: WrkResult
    load: str

    @property
    def acked(self) -> float:
        result = self.events
        return result.requests_per_second * (1 - result.non_2xx / max(result.requests, 1))


def pending(database_url: str) -> tuple[int, int]:
    """(events not yet applied, outbox items waiting or running), from the shared database."""
    return asyncio.run(pending_work(database_url))


def wait_until(database_url: str, done: int, timeout: float = 600.0) -> float:
    """Seconds until the first ``done`` counts of pending() are zero (1: events, 2: and cards)."""
    started = time.monotonic()
    while any(pending(database_url)[:done]):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"still pending after {timeout}s: {pending(database_url)}")
        time.sleep(0.05)
    return time.monotonic() - started


class Deployment:
    """N replicas on one database, behind haproxy; a Mattermost stand-in answers them all."""

    def __init__(
        self, database_url: str, replicas: int, mattermost_port: int, applier: bool = False
    ) -> None:
        self.database_url = database_url
        env = {
            "MEETBRIDGE_MATTERMOST_URL": f"http://127.0.0.1:{mattermost_port}",
            "MEETBRIDGE_MATTERMOST_TOKEN": "bench",
            "MEETBRIDGE_SECRET_KEY": KEY,
            "MEETBRIDGE_LOG_LEVEL": "warning",
        }
        self.processes = [
            ServiceProcess(Path(tempfile.mkdtemp(prefix="meetbridge-bench-")), database_url, **env)
            for _ in range(replicas)
        ]
        # Started first and given no traffic; it would take the lead from the others anyway.
        self.applier = (
            ServiceProcess(
                Path(tempfile.mkdtemp(prefix="meetbridge-bench-")),
                database_url,
                **env,
                MEETBRIDGE_APPLIER_PRIORITY="high",
            )
            if applier
            else None
        )

    @contextmanager
    def running(self, haproxy: str) -> Iterator[HaproxyBalancer]:
        self.processes[0].cli("migrate")
        everyone = ([self.applier] if self.applier else []) + self.processes
        try:
            for process in everyone:
                process.start()
            with HaproxyBalancer(
                haproxy, [p.port for p in self.processes], PATIENT_CHECKS
            ) as balancer:
                yield balancer
        finally:
            for process in everyone:
                process.stop()

    def authorization(self) -> str:
        username, password = self.processes[0].credentials()
        return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def ceilings(
    answers: dict[str, bytes],
    haproxy: str,
    url_path: str,
    connections: int,
    threads: int,
    seconds: int,
    script: Path,
    *args: str,
) -> tuple[WrkResult, WrkResult]:
    """nginx answering ``answers`` directly, then through haproxy (which checks /healthz)."""
    with NginxCeiling({**answers, "/healthz": b"{}"}) as nginx:
        direct = run_wrk(nginx.url + url_path, connections, threads, seconds, script, *args)
        with HaproxyBalancer(haproxy, [nginx.port], PATIENT_CHECKS) as balancer:
            through = run_wrk(balancer.url + url_path, connections, threads, seconds, script, *args)
    return direct, through


@dataclass
class Bench:
    haproxy: str
    standin: MattermostStandIn
    mattermost_port: int
    policy_channels: list[str]
    nodes: int
    seconds: int
    smallest: int
    largest: int
    connections: int

    def measure(self, database_url: str, replicas: int, run: int, applier: bool) -> Figures:
        deployment = Deployment(database_url, replicas, self.mattermost_port, applier)
        with deployment.running(self.haproxy) as balancer:
            authorization = deployment.authorization()
            events = self.busy_hour(deployment, balancer, authorization, run)
            policy = self.policy(balancer, authorization)
        label = f"{replicas}+a" if applier else str(replicas)
        return Figures(label, *events, *policy, load=load())

    def busy_hour(
        self, deployment: Deployment, balancer: HaproxyBalancer, authorization: str, run: int
    ) -> tuple[WrkResult, WrkResult, WrkResult, float, float, int]:
        channels = [f"rp{run:03d}{i:03d}" + "c" * 18 for i in range(1, self.nodes + 1)]
        for channel in channels:
            template = self.standin.channels[self.standin.add_channel(f"Busy {channel[:8]}")]
            self.standin.channels[channel] = {**template, "id": channel}
        sizes = meeting_sizes(self.nodes, self.smallest, self.largest)
        # fill_meetings posts to the url it is given: here, the balancer's.
        fill_meetings(cast(ServiceProcess, balancer), authorization, run, channels, sizes)
        database_url = deployment.database_url
        wait_until(database_url, 2)
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(BUSY_LUA)
        args = (authorization, ",".join(channels), ",".join(map(str, sizes)), str(run))
        before = inbox_rows(database_url)
        result = run_wrk(balancer.url, self.nodes, self.nodes, self.seconds, script, *args)
        drain = wait_until(database_url, 1)
        delivered = drain + wait_until(database_url, 2)
        lost = result.requests - result.non_2xx - (inbox_rows(database_url) - before)
        direct, through = ceilings(
            {SINK: b"{}"}, self.haproxy, SINK, self.nodes, self.nodes, self.seconds, script, *args
        )
        return result, direct, through, drain, delivered, lost

    def policy(
        self, balancer: HaproxyBalancer, authorization: str
    ) -> tuple[WrkResult, WrkResult, WrkResult]:
        node = InfinityNode("10.20.0.11")
        paths = [
            f"{POLICY}/service/configuration?" + urlencode(node.service_configuration(f"matt-{c}"))
            for c in self.policy_channels
        ]
        answer = b""
        with httpx2.Client(headers={"Authorization": authorization}) as http:
            for path in paths:  # check the answers; the warm-up below fills every cache
                response = http.get(balancer.url + path)
                assert response.status_code == 200, response.text
                answer = response.content
        script = write_script(paths, authorization)
        run_wrk(balancer.url + POLICY, 16, 1, 3, script)  # warm-up, over every replica
        result = run_wrk(balancer.url + POLICY, self.connections, 1, self.seconds, script)
        direct, through = ceilings(
            {f"{POLICY}/service/configuration": answer},
            self.haproxy,
            POLICY,
            self.connections,
            1,
            self.seconds,
            script,
        )
        return result, direct, through


def print_table(runs: list[Figures]) -> None:
    one = runs[0]
    print(
        f"{'replicas':>8}{'acked/s':>9}{'x1':>6}{'p99 ms':>8}{'drain s':>8}{'cards s':>8}"
        f"{'nginx/s':>9}{'via hap':>9}{'answers/s':>10}{'x1':>6}{'p99 ms':>8}"
        f"{'nginx/s':>9}{'via hap':>9}{'lost':>6}   load after"
    )
    for run in runs:
        print(
            f"{run.replicas:>8}{run.acked:>9,.0f}{run.acked / one.acked:>6.2f}"
            f"{run.events.p99_ms:>8.1f}{run.drain:>8.2f}{run.delivered:>8.2f}"
            f"{run.events_ceiling.requests_per_second:>9,.0f}"
            f"{run.events_via_haproxy.requests_per_second:>9,.0f}"
            f"{run.policy.requests_per_second:>10,.0f}"
            f"{run.policy.requests_per_second / one.policy.requests_per_second:>6.2f}"
            f"{run.policy.p99_ms:>8.1f}{run.policy_ceiling.requests_per_second:>9,.0f}"
            f"{run.policy_via_haproxy.requests_per_second:>9,.0f}"
            f"{'none' if run.lost <= 0 else run.lost:>6}   {run.load}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--nodes", type=int, default=32, help="Conferencing Nodes sending events")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--smallest", type=int, default=20, help="people in the smallest meeting")
    parser.add_argument("--largest", type=int, default=200, help="people in the largest meeting")
    parser.add_argument("--connections", type=int, default=64, help="policy connections")
    parser.add_argument(
        "--with-applier",
        action="store_true",
        help="also measure each count with one more replica that only applies events",
    )
    args = parser.parse_args()
    haproxy, bin_dir = find_haproxy(), find_bin_dir()
    if haproxy is None or bin_dir is None:
        raise SystemExit("needs haproxy and PostgreSQL: scripts/install-system-deps.sh")
    standin, writes = MattermostStandIn(), ChatWrites()
    mattermost_port = free_port()
    serve_standin(standin, mattermost_port, writes)
    bench = Bench(
        haproxy,
        standin,
        mattermost_port,
        [standin.add_channel(f"Channel {i}") for i in range(CHANNELS)],
        args.nodes,
        args.seconds,
        args.smallest,
        args.largest,
        args.connections,
    )
    with ExitStack() as stack:
        postgres = PostgresServer(bin_dir)
        postgres.start()
        stack.callback(postgres.stop)
        postgres.wait_ready()
        print(
            f"meetbridge replicas on one PostgreSQL behind haproxy (round robin), busy hour from "
            f"{args.nodes} nodes ({args.smallest}-{args.largest} people per meeting), policy at "
            f"{args.connections} connections, {args.seconds}s per run; load before: {load()}"
        )
        print(
            "acked/s: events acknowledged; drain s / cards s: after the run, until every event "
            "is applied / every card update delivered; nginx/s, via hap: nginx answering the "
            "same requests directly and through haproxy; lost: acknowledged but not in the inbox"
        )
        runs: list[Figures] = []
        for replicas in args.replicas:
            for applier in (False, True) if args.with_applier else (False,):
                url = postgres.create_database(f"replicas_{len(runs) + 1}")
                runs.append(bench.measure(url, replicas, len(runs) + 1, applier))
                print(f"  {runs[-1].replicas} replica(s) measured, load {load()}", flush=True)
        print_table(runs)


if __name__ == "__main__":
    main()
