"""``meetbridge doctor``'s checks against real local parts: STUN answered (or not) over UDP and
through TLS, a database that is not there, a schema that is not current, and Infinity's last
policy request as the policy endpoint records it. The whole doctor on a real deployment, and
each fault it must name there, is in tests/deploy/test_compose_stack.py."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.doctor.context import DoctorContext, clock_skew
from meetbridge.doctor.infrastructure import check_database, open_core
from meetbridge.doctor.pexip import check_pexip
from meetbridge.doctor.results import Status, exit_status
from meetbridge.doctor.turn import BINDING_SUCCESS, MAGIC_COOKIE, check_turn
from tests.conftest import RunningApp
from tests.deploy.certificates import make_test_ca
from tests.integration.conftest import SERVICE_CONFIGURATION, alias
from tests.support.infinity import InfinityNode

TURN_NAME = "turn.doctor.test"


def _answer(request: bytes) -> bytes:
    """A STUN Binding success for ``request`` (no attributes: enough for the doctor)."""
    return struct.pack("!HHI", BINDING_SUCCESS, 0, MAGIC_COOKIE) + request[8:20]


class _StunUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(_answer(data), addr)  # type: ignore[attr-defined]


@pytest.fixture
async def stun_udp() -> AsyncIterator[int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _StunUdp, local_addr=("127.0.0.1", 0)
    )
    yield transport.get_extra_info("sockname")[1]
    transport.close()


@pytest.fixture
def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def stun_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, int]]:
    """TURN/TLS as the proxy gives it: TLS for ``localhost`` (a test CA the doctor trusts
    through SSL_CERT_FILE), STUN inside."""
    ca = make_test_ca(tmp_path / "ca", [TURN_NAME])
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_pem))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca.server_pem)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readexactly(20)
        writer.write(_answer(request))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    yield TURN_NAME, server.sockets[0].getsockname()[1]
    server.close()


def _turn_env(monkeypatch: pytest.MonkeyPatch, udp: int, tls: int) -> None:
    """The TURN settings, and DNS for the TURN name (this machine has none: a stand-in for
    the name's A record, as the compose stack's containers get one in /etc/hosts)."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        return resolve("127.0.0.1" if host == TURN_NAME else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("MEETBRIDGE_TURN_DOMAIN", TURN_NAME)
    monkeypatch.setenv("MEETBRIDGE_LIVEKIT_NODE_IP", "127.0.0.1")
    monkeypatch.setenv("MEETBRIDGE_TURN_UDP_PORT", str(udp))
    monkeypatch.setenv("MEETBRIDGE_TURN_PUBLIC_TLS_PORT", str(tls))


async def test_turn_answering_stun_on_both_doors_is_ok(
    stun_udp: int, stun_tls: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _turn_env(monkeypatch, stun_udp, stun_tls[1])
    udp, tls = await check_turn(DoctorContext.create(ServiceConfig()), livekit_in_use=True)
    assert (udp.name, udp.status) == ("TURN/UDP", Status.OK), udp
    assert (tls.name, tls.status) == ("TURN/TLS", Status.OK), tls


async def test_a_silent_turn_port_and_a_closed_tls_port_are_named_with_the_fix(
    closed_udp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        tls_port = listener.getsockname()[1]  # bound, not listening: refused
    _turn_env(monkeypatch, closed_udp_port, tls_port)
    udp, tls = await check_turn(DoctorContext.create(ServiceConfig()), livekit_in_use=True)
    assert udp.status is Status.FAIL
    assert f"127.0.0.1:{closed_udp_port}/udp does not answer STUN" in udp.detail
    assert f"open {closed_udp_port}/udp" in udp.fix
    assert tls.status is Status.FAIL and "connection refused" in tls.detail
    assert exit_status([udp, tls]) == 1


async def test_a_database_that_is_not_there_is_named_without_its_password(
    tmp_path: Path,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = ServiceConfig(
        data_dir=tmp_path,
        database_url=f"postgresql://meetbridge:hunter2@127.0.0.1:{port}/meetbridge",
        secret_key="A" * 43 + "=",
    )
    ctx = DoctorContext.create(config)
    try:
        assert open_core(ctx) == []
        database, migrations = await check_database(ctx)
    finally:
        await ctx.close()
    assert database.status is Status.FAIL
    assert f"meetbridge:***@127.0.0.1:{port}/meetbridge" in database.detail
    assert "connection refused" in database.detail and "hunter2" not in database.line()
    assert migrations.status is Status.SKIP and ctx.state is None


async def test_an_old_schema_is_named_and_the_checks_that_need_it_wait(tmp_path: Path) -> None:
    config = ServiceConfig(data_dir=tmp_path, secret_key="A" * 43 + "=")  # an empty SQLite file
    ctx = DoctorContext.create(config)
    try:
        open_core(ctx)
        database, migrations = await check_database(ctx)
    finally:
        await ctx.close()
    assert database.status is Status.OK
    assert migrations.status is Status.FAIL and "`meetbridge migrate`" in migrations.fix


async def test_infinitys_last_policy_request_is_what_the_endpoint_recorded(
    service: RunningApp, node: InfinityNode
) -> None:
    ctx = DoctorContext.create(service.components.core.config)
    ctx.core, ctx.state = service.components.core, service.components.state
    (before,) = await check_pexip(ctx)
    assert before.status is Status.WARN and "last policy request never" in before.detail
    answer = await service.http.get(
        SERVICE_CONFIGURATION,
        params=node.service_configuration(alias("c" * 26)),
        headers=service.auth,
    )
    assert answer.status_code in (200, 404)
    for _ in range(50):  # the mark is stored by a task of its own, off the answer's path
        (after,) = await check_pexip(ctx)
        if "never" not in after.detail.split(",")[0]:
            break
        await asyncio.sleep(0.05)
    assert after.status is Status.OK and "last policy request 0 s ago" in after.detail, after
    await ctx.http.aclose()


def test_a_clock_is_read_from_an_http_date() -> None:
    # The server's clock is 3 s ahead of ours.
    assert clock_skew("Mon, 07 Dec 2026 15:08:04 GMT", 1796656081.0) == pytest.approx(3.0)
    assert clock_skew("not a date", 0.0) is None
    assert clock_skew(None, 0.0) is None


async def test_a_mark_still_being_stored_at_shutdown_is_finished_first(
    config: ServiceConfig,
) -> None:
    """The mark is a task of its own: shutdown waits for it before the database closes (a
    task outliving the app would leave a connection behind)."""
    from meetbridge.clock import SystemClock
    from meetbridge.engines.pexip.policy_seen import PolicySeen, last_policy_request
    from meetbridge.store import migrate
    from meetbridge.store.database import open_database

    database = open_database(config.effective_database_url)
    await migrate.upgrade(database)
    seen = PolicySeen(database, SystemClock())
    seen.mark()
    seen.mark()  # within the minute: no second write
    await seen.close()
    assert await last_policy_request(database) is not None
    await database.close()
