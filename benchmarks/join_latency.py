"""Time from `/meet start` to media flowing in the meeting page, on the LiveKit engine.

The whole chain, real at every step: the test suite's Mattermost (PostgreSQL and the pinned
server build, tests/e2e/mattermost), a real livekit-server, meetbridge serving with both, and
Chromium (Playwright, fake camera and microphone) signed in to Mattermost as the user. Each join:

  command  `/meet start` through Mattermost's commands API until its answer (the join link)
  page     the browser opens the link: Mattermost's sign-in, the meeting page loaded
  media    the page's getStats shows outbound audio bytes > 0 and LiveKit's room lists the
           participant with a published microphone

The meeting is then ended (`/meet end`) and the next join starts a new one. In a DM the page
joins unmuted (channel meetings start muted), so the microphone publishes without a click.

    uv run python -m benchmarks.join_latency [--joins 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, async_playwright
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path
from tests.browser.meeting_support import RECORD_PEER_CONNECTIONS
from tests.e2e.live import LiveMeetbridge, start_live, stop_live
from tests.e2e.mattermost.bootstrap import Account, bootstrap
from tests.e2e.mattermost.server import MattermostServer, build_server
from tests.support.livekit import LiveKitServer, find_or_build_server
from tests.support.postgres import PostgresServer, find_bin_dir

from meetbridge.clock import SystemClock
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit.engine import room_name
from meetbridge.engines.livekit.rooms import RoomService, build_http_client

OUTBOUND_AUDIO_BYTES = """async () => {
    let sent = 0;
    for (const pc of window.__peerConnections || []) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach(r => {
            if (r.type === 'outbound-rtp' && r.kind === 'audio') sent += r.bytesSent || 0;
        });
    }
    return sent;
}"""


@dataclass(frozen=True)
class Join:
    command_s: float
    page_s: float
    media_s: float

    @property
    def total_s(self) -> float:
        return self.command_s + self.page_s + self.media_s


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("media did not flow within 30 s")
        await asyncio.sleep(0.02)


async def one_join(
    live: LiveMeetbridge, browser: Browser, rooms: RoomService, user: Account, channel: str
) -> Join:
    context = await browser.new_context(permissions=["camera", "microphone"])
    await context.add_cookies([{"name": "MMAUTHTOKEN", "value": user.token, "url": live.world.url}])
    await context.add_init_script(RECORD_PEER_CONNECTIONS)
    page = await context.new_page()
    try:
        began = time.monotonic()
        answer = await live.meet(user, channel, "start")
        link = answer["goto_location"]
        answered = time.monotonic()
        await page.goto(link, wait_until="load")
        loaded = time.monotonic()
        config = json.loads(await page.locator("#meetbridge-config").text_content() or "{}")
        room = room_name(ChannelId(live.world.channels[channel]))

        async def flowing() -> bool:
            if await page.evaluate(OUTBOUND_AUDIO_BYTES) <= 0:
                return False
            listed = await rooms.list_participants(room)
            mine = [p for p in listed if p.identity == config["identity"]]
            return any(t.source == "MICROPHONE" for p in mine for t in p.tracks)

        await until(flowing)
        flowed = time.monotonic()
        return Join(answered - began, loaded - answered, flowed - loaded)
    finally:
        await context.close()
        await live.meet(user, channel, "end")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(joins: list[Join]) -> None:
    print(f"{len(joins)} joins, seconds:        p50     p95     max")
    for stage in ("command_s", "page_s", "media_s", "total_s"):
        values = [getattr(join, stage) for join in joins]
        name = stage.removesuffix("_s")
        print(
            f"  {name:<24} {statistics.median(values):7.3f} {percentile(values, 0.95):7.3f} "
            f"{max(values):7.3f}"
        )


async def run(joins: int) -> None:
    bin_dir, livekit_binary, chromium = find_bin_dir(), find_or_build_server(), chromium_path()
    if bin_dir is None or livekit_binary is None or chromium is None:
        sys.exit("needs PostgreSQL, livekit-server and Chromium: make system-deps livekit-build")
    postgres = PostgresServer(bin_dir)
    postgres.start()
    postgres.wait_ready()
    mattermost = MattermostServer(
        build_server(), postgres.create_database("mattermost") + "?sslmode=disable"
    )
    livekit = LiveKitServer(livekit_binary)
    livekit.start()
    try:
        mattermost.start()
        world = bootstrap(mattermost.url)
        data_dir = Path(tempfile.mkdtemp(prefix="meetbridge-bench-"))
        live, server, task = await start_live(
            world,
            data_dir,
            livekit_url=livekit.ws_url,
            livekit_api_key=livekit.api_key.key,
            livekit_api_secret=livekit.api_key.secret,
        )
        await live.setting("default_engine", "livekit")
        http = build_http_client(livekit.ws_url)
        rooms = RoomService(http, livekit.api_key.key, livekit.api_key.secret, SystemClock())
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, args=CHROMIUM_ARGS
                )
                alice = world.users["alice"]
                await one_join(live, browser, rooms, alice, "dm")  # warm-up, not counted
                measured = [await one_join(live, browser, rooms, alice, "dm") for _ in range(joins)]
                await browser.close()
            report(measured)
        finally:
            await rooms.close()
            await stop_live(live, server, task)
    finally:
        livekit.stop()
        mattermost.remove()
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--joins", type=int, default=20)
    asyncio.run(run(parser.parse_args().joins))


if __name__ == "__main__":
    main()
