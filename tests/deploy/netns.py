"""A network namespace like a strict corporate network: its only way out is TCP to port 443 of
one address (this machine, across a veth pair); UDP and every other port are dropped.

Made by the test itself (``ip netns``, ``iptables`` inside the namespace), removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Firewalled:
    name: str
    host_address: str  # this machine, as the namespace sees it (where the proxy listens)
    chromium: Path  # a wrapper that runs Chromium inside the namespace


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


@contextmanager
def only_tcp_443(directory: Path, chromium: str) -> Iterator[Firewalled]:
    suffix = os.getpid() % 200 + 20
    name, host_if, inner_if = f"mbfw{suffix}", f"mbfwh{suffix}", f"mbfwn{suffix}"
    host, inner = f"10.231.{suffix}.1", f"10.231.{suffix}.2"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", inner_if)
        _run("ip", "link", "set", inner_if, "netns", name)
        _run("ip", "addr", "add", f"{host}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        inside = ("ip", "netns", "exec", name)
        _run(*inside, "ip", "addr", "add", f"{inner}/30", "dev", inner_if)
        _run(*inside, "ip", "link", "set", inner_if, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "route", "add", "default", "via", host)
        for rule in (
            ["-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],
            ["-A", "OUTPUT", "-p", "tcp", "-d", host, "--dport", "443", "-j", "ACCEPT"],
            ["-A", "OUTPUT", "-p", "udp", "-j", "DROP"],
            ["-P", "OUTPUT", "DROP"],
        ):
            _run(*inside, "iptables", *rule)
        wrapper = directory / "chromium-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} {chromium} "$@"\n')
        wrapper.chmod(0o755)
        yield Firewalled(name, host, wrapper)
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def reaches(firewalled: Firewalled, port: int) -> bool:
    """Whether a TCP connection from the namespace to the host's ``port`` is answered."""
    probe = (
        "import socket; s = socket.socket(); s.settimeout(2); "
        f"s.connect(('{firewalled.host_address}', {port}))"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", firewalled.name, "python3", "-c", probe],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return result.returncode == 0
