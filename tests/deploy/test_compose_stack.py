"""deploy/compose on this machine, attached to a real Mattermost, used as people would.

The stack (meetbridge, PostgreSQL, Redis, LiveKit with TURN, the TLS proxy) comes up from the
shipped files with a test CA; a real Mattermost (the suite's build, with its own database and
the stack's names in a private /etc/hosts) points at it. Then: ``meetbridge doctor`` is all
green; ``/meet`` gives a card; two Chromiums that trust the test CA meet through the proxy;
a third, in a network namespace whose only way out is TCP to 443, still gets media, over a
relay (TURN/TLS) as its own WebRTC statistics say; the logs read as an operator needs; the
doctor names each of five faults; and a backup restored into a fresh stack has the meeting
history and the settings. The tests run in order on one stack (bringing it up is the cost).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.browser.meeting_support import RECORD_PEER_CONNECTIONS, media_flows
from tests.browser.meeting_support import eventually as page_eventually
from tests.deploy.certificates import StackCA, browser_home, make_test_ca
from tests.deploy.netns import Firewalled, only_tcp_443, reaches
from tests.deploy.stack import CHAT, DOMAIN, MEET, NAMES, ComposeStack, services_image
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld, bootstrap
from tests.e2e.mattermost.server import MattermostServer, build_server, go_available
from tests.e2e.mattermost.users import MattermostUsers
from tests.e2e.test_companion_plugin import install_bundle, patch_plugin_settings
from tests.support.livekit import find_or_build_server
from tests.support.postgres import PostgresServer
from tests.support.requirements import require

pytestmark = [pytest.mark.slow, pytest.mark.mattermost, pytest.mark.asyncio(loop_scope="module")]

CHANNEL = "private"  # alice, bob and carol
TIMEOUT = 45_000  # ms
PLUGIN_SECRET = "s3cret-shared-with-the-companion-plugin-0123456789"


@dataclass
class Deployment:
    stack: ComposeStack
    world: MattermostWorld
    mattermost: MattermostServer
    ca: StackCA
    home: Path  # a browser HOME that trusts the test CA
    work: Path
    pages: dict[str, Page] = field(default_factory=dict)
    console: dict[str, str] = field(default_factory=dict)  # each page's console, for failures

    def user(self, name: str) -> Account:
        return self.world.users[name]

    async def meet(self, user: Account, text: str) -> dict[str, Any]:
        """/meet as ``user`` in the channel, through Mattermost (which calls meetbridge)."""
        return await MattermostUsers(self.world).meet(user, CHANNEL, text)

    def doctor(self, *env: str) -> tuple[int, dict[str, str]]:
        """``meetbridge doctor`` in the meetbridge container: exit status and each check's
        line by name (``env``: NAME=VALUE assignments, ``-NAME`` to unset one)."""
        command = ["env", *(f"-u{e[1:]}" if e.startswith("-") else e for e in env)]
        run = self.stack.exec("meetbridge", *command, "meetbridge", "doctor", timeout=240)
        lines: dict[str, str] = {}
        for line in run.stdout.splitlines():
            status, _, rest = line.partition("  ")
            name, _, _ = rest.lstrip().partition(": ")
            if status.strip() in ("OK", "WARN", "FAIL", "SKIP"):
                lines[name] = line
        return run.returncode, lines


def _failing(lines: dict[str, str]) -> set[str]:
    return {name for name, line in lines.items() if line.startswith("FAIL")}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose")


@pytest.fixture(scope="module")
def ca(work: Path) -> StackCA:
    return make_test_ca(work / "ca", NAMES)


@pytest.fixture(scope="module")
def stack_mattermost(
    postgres_server: PostgresServer, work: Path, ca: StackCA
) -> Iterator[MattermostServer]:
    """A Mattermost of its own (the stack revokes its bot token and changes its plugin), that
    finds the stack's names in a private /etc/hosts and trusts the test CA, as a Mattermost
    beside this deployment would through DNS and its system's CA store."""
    require(go_available(), "Go (to build the Mattermost test server)")
    hosts = work / "hosts"
    hosts.write_text(Path("/etc/hosts").read_text() + "".join(f"127.0.0.1 {n}\n" for n in NAMES))
    database = postgres_server.create_database(f"mm_compose_{os.getpid()}")
    server = MattermostServer(
        build_server(),
        database + "?sslmode=disable&connect_timeout=10",
        site_url=f"https://{CHAT}",
        wrapper=[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"',
            str(hosts),
        ],
        extra_env={"SSL_CERT_FILE": str(ca.ca_pem), "SSL_CERT_DIR": "/etc/ssl/certs"},
    )
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def firewalled(work: Path) -> Iterator[Firewalled]:
    """The namespace limited to TCP 443, made before the stack: LiveKit's node address is this
    machine's end of it (as on a LAN, where the node's address is a private one)."""
    chromium = chromium_path()
    require(chromium is not None, "Chromium (Debian package chromium)")
    assert chromium is not None
    with only_tcp_443(work, chromium) as namespace:
        yield namespace


@pytest.fixture(scope="module")
def deployment(
    base_image: str,
    meetbridge_image: str,
    stack_mattermost: MattermostServer,
    work: Path,
    ca: StackCA,
    firewalled: Firewalled,
) -> Iterator[Deployment]:
    chromium = chromium_path()
    require(chromium is not None, "Chromium (Debian package chromium)")
    require(shutil.which("certutil") is not None, "certutil (Debian package libnss3-tools)")
    world = bootstrap(stack_mattermost.url)
    install_bundle(world)
    binary = find_or_build_server()
    require(binary is not None, "livekit-server (Go to build it)")
    assert binary is not None
    services = services_image(base_image, binary, work / "services")
    stack = ComposeStack.prepare(
        work / "stack",
        f"mbtest{os.getpid()}",
        ca,
        meetbridge_image=meetbridge_image,
        services=services,
        mattermost_url=stack_mattermost.url,
        bot_token=world.bot.token,
        node_ip=firewalled.host_address,
    )
    deployment = Deployment(
        stack, world, stack_mattermost, ca, browser_home(work / "home", ca), work
    )
    try:
        stack.up()
        _wait_for_meet_command(deployment)
        yield deployment
    finally:
        _keep_logs(deployment.stack)  # the backup test replaces the stack with a fresh one
        deployment.stack.down()


def _wait_for_meet_command(deployment: Deployment, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx2.Client(
        base_url=f"{deployment.world.url}/api/v4",
        headers={"Authorization": f"Bearer {deployment.world.admin.token}"},
    ) as api:
        while time.monotonic() < deadline:
            commands = api.get(
                "/commands", params={"team_id": deployment.world.team_id, "custom_only": "true"}
            ).json()
            if any(c.get("url") == f"https://{MEET}/api/mattermost/command" for c in commands):
                return
            time.sleep(0.5)
    raise AssertionError(
        f"/meet was not registered:\n{deployment.stack.logs('meetbridge')[-4000:]}"
    )


def _keep_logs(stack: ComposeStack) -> None:
    out = ARTIFACTS.parent / "compose-logs"
    out.mkdir(parents=True, exist_ok=True)
    for service in ("meetbridge", "livekit", "proxy", "postgres"):
        (out / f"{stack.project}-{service}.log").write_text(stack.logs(service))


# --- browsers ------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromiums(deployment: Deployment) -> AsyncIterator[list[Browser]]:
    """Two Chromium processes on this machine, resolving the stack's names to loopback."""
    async with async_playwright() as playwright:
        browsers = [await _launch(playwright, deployment.home, "127.0.0.1") for _ in range(2)]
        yield browsers
        for browser in browsers:
            await browser.close()


async def _launch(
    playwright: Any, home: Path, address: str, executable: str | None = None
) -> Browser:
    browser: Browser = await playwright.chromium.launch(
        executable_path=executable or chromium_path(),
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP *.{DOMAIN} {address}"],
        env={**os.environ, "HOME": str(home)},
    )
    return browser


async def _open(deployment: Deployment, browser: Browser, name: str, link: str) -> Page:
    """``name``'s browser, signed in to Mattermost (its session cookie), opens the link."""
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    await context.add_cookies(
        [{"name": "MMAUTHTOKEN", "value": deployment.user(name).token, "url": f"https://{CHAT}"}]
    )
    page = await context.new_page()
    console = deployment.console
    page.on("console", lambda m: console.__setitem__(name, console.get(name, "") + m.text + "\n"))
    await page.add_init_script(RECORD_PEER_CONNECTIONS)
    await page.goto(link)
    deployment.pages[name] = page
    return page


async def _unmute(page: Page) -> None:
    await expect(page.locator("#mb-mic")).to_have_accessible_name(
        "Unmute microphone", timeout=TIMEOUT
    )
    await page.locator("#mb-mic").click()


SELECTED_PAIRS = """async () => {
    const found = [];
    for (const pc of window.__peerConnections || []) {
        if (pc.connectionState !== 'connected') continue;
        const stats = await pc.getStats();
        let pairId = null;
        stats.forEach(r => { if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
        const pair = pairId && stats.get(pairId);
        if (!pair) continue;
        const local = stats.get(pair.localCandidateId);
        const remote = stats.get(pair.remoteCandidateId);
        found.push({type: local.candidateType, relayProtocol: local.relayProtocol || '',
                    protocol: local.protocol, url: local.url || '', remote: remote.candidateType});
    }
    return found;
}"""


# --- the tests, in order -------------------------------------------------------------------


async def test_doctor_is_all_green_on_the_working_stack(deployment: Deployment) -> None:
    configured = deployment.stack.meetbridge(
        "settings", "set", "plugin_shared_secret", PLUGIN_SECRET
    )
    assert configured.returncode == 0, configured.stderr
    patched = await patch_plugin_settings(
        deployment.world, {"meetbridgeurl": f"https://{MEET}", "sharedsecret": PLUGIN_SECRET}
    )
    assert patched.status_code == 200, patched.text
    status, lines = deployment.doctor()
    report = "\n".join(lines.values())
    assert status == 0, report
    for check in (
        "database", "migrations", "secret key", "public URL", "Mattermost", "/meet command",
        "OAuth app", "companion plugin", "clock (Mattermost)", "LiveKit API",
        "LiveKit webhooks", "clock (LiveKit)", "TURN/UDP", "TURN/TLS",
    ):  # fmt: skip
        assert lines.get(check, "").startswith("OK"), f"{check} not OK:\n{report}"
    assert lines["Pexip"].startswith("SKIP"), report  # not in use on a LiveKit install


async def test_meet_gives_a_card_and_two_browsers_meet_through_the_proxy(
    deployment: Deployment, chromiums: list[Browser]
) -> None:
    started = await deployment.meet(deployment.user("alice"), "start Compose stack")
    link = started["goto_location"]
    assert link.startswith(f"https://{MEET}/join/"), started
    await page_eventually(lambda: _card_posted(deployment), 30, "a meeting card in the channel")
    alice = await _open(deployment, chromiums[0], "alice", link)
    joined = await deployment.meet(deployment.user("bob"), "join")
    bob = await _open(deployment, chromiums[1], "bob", joined["goto_location"])
    for page in (alice, bob):
        await expect(page.locator("#mb-status")).to_have_text(
            "In meeting with 1 other person", timeout=TIMEOUT
        )
        await _unmute(page)
    for page in (alice, bob):
        await media_flows(page, ("audio", "video"), timeout=40)
    assert alice.url.startswith(f"https://{MEET}/")


async def test_a_browser_whose_only_way_out_is_tcp_443_gets_media_over_turn_tls(
    deployment: Deployment, firewalled: Firewalled
) -> None:
    _check_the_firewall(deployment, firewalled)
    async with async_playwright() as playwright:
        browser = await _launch(
            playwright, deployment.home, firewalled.host_address, str(firewalled.chromium)
        )
        try:
            joined = await deployment.meet(deployment.user("carol"), "join")
            carol = await _open(deployment, browser, "carol", joined["goto_location"])
            try:
                await expect(carol.locator("#mb-status")).to_have_text(
                    "In meeting with 2 other people", timeout=TIMEOUT
                )
            except AssertionError as failure:
                raise AssertionError(await _why_not_joined(deployment, carol)) from failure
            await _unmute(carol)
            await media_flows(carol, ("audio", "video"), timeout=60)
            pairs: list[dict[str, str]] = await carol.evaluate(SELECTED_PAIRS)
            await carol.screenshot(path=str(_artifact("compose-firewalled-carol.png")))
        finally:
            await browser.close()
    assert pairs, "no connected peer connection"
    assert all(p["type"] == "relay" and p["relayProtocol"] == "tls" for p in pairs), pairs


async def _why_not_joined(deployment: Deployment, page: Page) -> str:
    candidates = await page.evaluate(CANDIDATE_PAIRS)
    return (
        f"the page's console:\n{deployment.console.get('carol', '')}\n"
        f"ICE candidate pairs: {candidates}\n"
        f"LiveKit:\n{deployment.stack.logs('livekit')[-6000:]}"
    )


CANDIDATE_PAIRS = """async () => {
    const found = [];
    for (const pc of window.__peerConnections || []) {
        const stats = await pc.getStats();
        stats.forEach(r => {
            if (r.type === 'local-candidate' || r.type === 'remote-candidate' || r.type === 'candidate-pair')
                found.push(JSON.stringify(r));
        });
        found.push('pc ' + pc.connectionState + ' ' + pc.iceConnectionState + ' ' + pc.iceGatheringState);
    }
    return found.join('\\n');
}"""


def _check_the_firewall(deployment: Deployment, firewalled: Firewalled) -> None:
    assert reaches(firewalled, 443)
    for port in ("LIVEKIT_RTC_TCP_PORT", "LIVEKIT_PORT", "MEETBRIDGE_PORT"):
        assert not reaches(firewalled, int(deployment.stack.env[port])), port


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


async def _card_posted(deployment: Deployment) -> bool:
    return await _card(deployment) is not None


async def _card(deployment: Deployment) -> dict[str, Any] | None:
    async with deployment.world.client(deployment.world.admin) as api:
        listing = (await api.get(f"/channels/{deployment.world.channels[CHANNEL]}/posts")).json()
    for post_id in listing["order"]:
        post = listing["posts"][post_id]
        if post["user_id"] == deployment.world.bot.id and "meetbridge_meeting_id" in (
            post.get("props") or {}
        ):
            return dict(post)
    return None


async def test_logs_are_json_lines_without_a_line_per_livekit_poll(deployment: Deployment) -> None:
    """In the meeting LiveKit is polled and webhooks arrive; the log has one JSON object a
    line, no HTTP client line per request, and one request id on a request's lines."""
    since = len(deployment.stack.logs("meetbridge").splitlines())
    answer = deployment.stack.get(MEET, "/healthz", headers={"X-Request-Id": "compose-test-1"})
    assert answer.headers["x-request-id"] == "compose-test-1"
    await asyncio.sleep(5)
    lines = deployment.stack.logs("meetbridge").splitlines()[since:]
    records = [orjson.loads(line) for line in lines if line.strip()]
    assert all("HTTP Request" not in str(r.get("event")) for r in records), lines
    assert len(records) < 20, lines  # a quiet meeting is a few lines, not a poll each 2 s


async def test_a_backup_restored_into_a_fresh_stack_has_the_history_and_settings(
    deployment: Deployment,
) -> None:
    """README, Backup: the database (pg_dump) and, kept apart, the secret key."""
    stack = deployment.stack
    assert stack.meetbridge("settings", "set", "ringing_timeout", "45").returncode == 0
    ended = await MattermostUsers(deployment.world).meet_confirmed(
        deployment.user("alice"), CHANNEL, "end"
    )
    assert ended.status_code == 200, ended.text
    before, after, settings = await asyncio.to_thread(_back_up_and_restore, deployment)
    assert after["recent"] == before["recent"]
    assert settings["ringing_timeout"] == 45, settings
    # The restored install is whole: same key, same secrets, the same checks pass.
    status, lines = deployment.doctor()
    assert status == 0, "\n".join(lines.values())


def _back_up_and_restore(deployment: Deployment) -> tuple[dict[str, Any], ...]:
    """What the README says to do, with the stack's own containers: pg_dump of the old
    stack, its secret key from where it is kept apart, pg_restore into a new stack."""
    stack = deployment.stack
    before = _meetings_once_ended(stack)
    dump = deployment.work / "meetbridge.dump"
    with dump.open("wb") as handle:
        dumped = stack.compose_with(
            ["exec", "-T", "postgres", "pg_dump", "-U", "meetbridge", "--format=custom",
             "meetbridge"],
            stdout=handle,
        )  # fmt: skip
    assert dumped.returncode == 0, dumped.stderr
    key = (stack.directory / "secrets" / "secret.key").read_bytes()
    _keep_logs(stack)
    stack.down()
    fresh = _fresh_stack(deployment, key)
    fresh.compose("up", "-d", "postgres")
    _wait_postgres(fresh)
    with dump.open("rb") as handle:
        restored = fresh.compose_with(
            ["exec", "-T", "postgres", "pg_restore", "-U", "meetbridge", "--clean",
             "--if-exists", "--no-owner", "-d", "meetbridge"],
            stdin=handle,
        )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    fresh.up()
    after = orjson.loads(fresh.meetbridge("meetings", "--json").stdout)
    settings = orjson.loads(fresh.meetbridge("settings", "show", "--json").stdout)
    return before, after, settings


def _meetings_once_ended(stack: ComposeStack, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        meetings: dict[str, Any] = orjson.loads(stack.meetbridge("meetings", "--json").stdout)
        if meetings["recent"] and not meetings["in_progress"]:
            return meetings
        if time.monotonic() > deadline:
            raise AssertionError(f"the meeting did not end: {meetings}")
        time.sleep(0.5)


def _fresh_stack(deployment: Deployment, key: bytes) -> ComposeStack:
    old = deployment.stack
    fresh = ComposeStack(deployment.work / "fresh", f"{old.project}b", old.ca, dict(old.env))
    shutil.copytree(old.directory, fresh.directory, ignore=shutil.ignore_patterns("secrets"))
    # As the README says: the saved key and the bot's token in secrets/, then init.sh (which
    # makes the rest anew and gives the files to meetbridge's user).
    secrets = fresh.directory / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "secret.key").write_bytes(key)
    shutil.copy2(old.directory / "secrets" / "mattermost_token", secrets / "mattermost_token")
    init = subprocess.run(
        ["bash", str(fresh.directory / "init.sh")], capture_output=True, text=True, check=False
    )
    assert init.returncode == 0, init.stderr
    deployment.stack = fresh
    return fresh


def _wait_postgres(stack: ComposeStack, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = stack.exec("postgres", "pg_isready", "-U", "meetbridge", "-d", "meetbridge")
        if ready.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(stack.logs("postgres"))


async def test_doctor_names_a_wrong_livekit_secret(deployment: Deployment) -> None:
    status, lines = deployment.doctor(
        "-MEETBRIDGE_LIVEKIT_API_SECRET_FILE", "MEETBRIDGE_LIVEKIT_API_SECRET=" + "w" * 48
    )
    assert status == 1 and _failing(lines) == {"LiveKit API"}, lines
    assert "refuses meetbridge's API key" in lines["LiveKit API"]


async def test_doctor_names_an_unreachable_turn_port(deployment: Deployment) -> None:
    status, lines = await asyncio.to_thread(_doctor_with_turn_udp_dropped, deployment)
    udp = deployment.stack.env["TURN_UDP_PORT"]
    assert status == 1 and _failing(lines) == {"TURN/UDP"}, lines
    node = deployment.stack.env["LIVEKIT_NODE_IP"]
    assert f"{node}:{udp}/udp does not answer STUN" in lines["TURN/UDP"]


def _doctor_with_turn_udp_dropped(deployment: Deployment) -> tuple[int, dict[str, str]]:
    """A firewall in between that drops TURN/UDP (the rule on this machine's loopback)."""
    rule = ["INPUT", "-p", "udp", "--dport", deployment.stack.env["TURN_UDP_PORT"], "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True)
    try:
        return deployment.doctor()
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True)


async def test_doctor_names_a_plugin_secret_mismatch(deployment: Deployment) -> None:
    changed = await patch_plugin_settings(
        deployment.world, {"meetbridgeurl": f"https://{MEET}", "sharedsecret": "x" * 40}
    )
    assert changed.status_code == 200, changed.text
    status, lines = deployment.doctor()
    assert status == 1 and _failing(lines) == {"companion plugin"}, lines
    assert "Shared secret differs" in lines["companion plugin"]


async def test_doctor_names_a_stopped_database(deployment: Deployment) -> None:
    stack = deployment.stack
    stack.compose("stop", "postgres")
    try:
        status, lines = deployment.doctor()
    finally:
        stack.compose("start", "postgres")
    assert status == 1 and _failing(lines) == {"database"}, lines
    assert f"127.0.0.1:{stack.env['POSTGRES_PORT']}/meetbridge" in lines["database"]
    assert "connection refused" in lines["database"]


async def test_doctor_names_a_revoked_mattermost_token(deployment: Deployment) -> None:
    """Last: the stack's bot cannot act any more afterwards."""
    await _revoke_bot_tokens(deployment)
    status, lines = deployment.doctor()
    assert status == 1 and _failing(lines) == {"Mattermost"}, lines
    assert "refuses the bot's token (401)" in lines["Mattermost"]


async def _revoke_bot_tokens(deployment: Deployment) -> None:
    async with deployment.world.client(deployment.world.admin) as api:
        tokens = (await api.get(f"/users/{deployment.world.bot.id}/tokens")).json()
        for token in tokens:
            revoked = await api.post("/users/tokens/revoke", json={"token_id": token["id"]})
            assert revoked.status_code == 200, revoked.text
