"""TURN reachable on its ports, as a client behind a firewall would try it: a STUN Binding
request to TURN/UDP, and the same request through TLS to the TURN name on the proxy's port.

STUN (RFC 8489): a 20-byte header (type, length, the magic cookie, a 96-bit transaction id); a
Binding success response (0x0101) echoes the transaction id. Over TCP or TLS messages are sent
back to back without extra framing. LiveKit's embedded TURN server answers Binding requests on
both listeners.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct

from meetbridge.doctor.context import DoctorContext, reason
from meetbridge.doctor.results import CheckResult, fail, ok, skip, warn
from meetbridge.engines.livekit.production_config import LiveKitDeployment

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
MAGIC_COOKIE = 0x2112A442
UDP_TRIES = 3
UDP_WAIT = 1.5


def binding_request() -> tuple[bytes, bytes]:
    transaction = os.urandom(12)
    return struct.pack("!HHI", BINDING_REQUEST, 0, MAGIC_COOKIE) + transaction, transaction


def is_binding_success(answer: bytes, transaction: bytes) -> bool:
    if len(answer) < 20:
        return False
    kind, _length, cookie = struct.unpack("!HHI", answer[:8])
    return kind == BINDING_SUCCESS and cookie == MAGIC_COOKIE and answer[8:20] == transaction


async def check_turn(ctx: DoctorContext, livekit_in_use: bool) -> list[CheckResult]:
    try:
        deployment = LiveKitDeployment()
    except ValueError as exc:
        return [fail("TURN", f"invalid TURN settings: {exc}", "correct MEETBRIDGE_TURN_*")]
    if not deployment.turn_domain:
        if not livekit_in_use:
            return [skip("TURN", "LiveKit not in use")]
        return [
            warn(
                "TURN",
                "MEETBRIDGE_TURN_DOMAIN is not set, so TURN is not checked: people whose "
                "network blocks UDP get no media without it",
                "enable TURN (deploy/compose does) and set MEETBRIDGE_TURN_DOMAIN",
            )
        ]
    return [await _udp(deployment), await _tls(deployment)]


async def _udp(deployment: LiveKitDeployment) -> CheckResult:
    name = "TURN/UDP"
    host = deployment.livekit_node_ip or deployment.turn_domain
    where = f"{host}:{deployment.turn_udp_port}/udp"
    if deployment.turn_udp_port == 0:
        return skip(name, "turned off (MEETBRIDGE_TURN_UDP_PORT=0)")
    try:
        answered = await asyncio.to_thread(_udp_binding, host, deployment.turn_udp_port)
    except OSError as exc:
        return fail(name, f"{where}: {reason(exc)}", "check the name's DNS")
    if answered:
        return ok(name, f"{where} answers STUN")
    return fail(
        name,
        f"{where} does not answer STUN ({UDP_TRIES} tries): the port is closed or filtered",
        f"open {deployment.turn_udp_port}/udp to LiveKit in every firewall in between, "
        "and check that LiveKit runs with TURN enabled",
    )


def _udp_binding(host: str, port: int) -> bool:
    address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(address[0], socket.SOCK_DGRAM) as sock:
        sock.settimeout(UDP_WAIT)
        for _ in range(UDP_TRIES):
            request, transaction = binding_request()
            sock.sendto(request, address[4])
            try:
                while True:
                    answer, _ = sock.recvfrom(2048)
                    if is_binding_success(answer, transaction):
                        return True
            except TimeoutError:
                continue
            except ConnectionRefusedError:  # ICMP port unreachable: nothing listens
                return False
    return False


async def _tls(deployment: LiveKitDeployment) -> CheckResult:
    name = "TURN/TLS"
    host, port = deployment.turn_domain, deployment.turn_public_tls_port
    where = f"{host}:{port}/tcp (TLS)"
    request, transaction = binding_request()
    try:
        async with asyncio.timeout(8.0):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl.create_default_context(), server_hostname=host
            )
            try:
                writer.write(request)
                await writer.drain()
                header = await reader.readexactly(20)
                body = await reader.readexactly(struct.unpack("!H", header[2:4])[0])
            finally:
                writer.close()
    except asyncio.IncompleteReadError:
        return fail(name, f"{where}: closed without a STUN answer", f"route {host} to TURN")
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return fail(
            name,
            f"{where}: {reason(exc)}",
            f"route TLS for {host} on port {port} to LiveKit's TURN port "
            f"{deployment.turn_tls_port} (deploy/compose/proxy), with a certificate for {host}",
        )
    if is_binding_success(header + body, transaction):
        return ok(name, f"{where} answers STUN through TLS")
    return fail(name, f"{where} answered, but not STUN", f"route {host} to LiveKit's TURN port")
