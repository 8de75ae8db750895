"""meetbridge's CPU per active LiveKit participant: the control plane only.

A real livekit-server sends its signed webhooks to a real meetbridge process; 50 participants
(LiveKit's Python SDK) join 5 rooms and publish a synthetic microphone. Media never passes
through meetbridge, so what it spends is webhooks, the event applier, reconciliation and its
own timers. Its process CPU time (utime + stime from /proc/<pid>/stat) is read over a fixed
window, first idle (the baseline), then with everyone publishing.

    uv run python -m benchmarks.livekit_control_plane [--participants 50] [--rooms 5] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from tests.support.livekit import LiveKitServer, find_or_build_server
from tests.support.service_process import ServiceProcess

from benchmarks.common import scratch_service
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit.engine import USER_ATTRIBUTE, room_name
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_RATE = 48000
FRAME = 4800  # 100 ms of mono 16-bit audio: few wake-ups for 50 publishers in one process


def mattermost_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may contain spaces: the fields that follow start after its ')'.
        return stat.read().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError):
                continue  # gone meanwhile
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (granian serves from a worker
    process) so far."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = _stat(current)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        pending.extend(_children(current))
    return total


@dataclass(frozen=True)
class Window:
    cpu_s: float
    wall_s: float

    @property
    def percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s


async def measure(pid: int, seconds: float) -> Window:
    cpu, wall = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return Window(cpu_seconds(pid) - cpu, time.monotonic() - wall)


class Publisher:
    """One participant publishing a tone until stopped."""

    def __init__(self, url: str, token: str) -> None:
        from livekit import rtc

        self._rtc = rtc
        self._url, self._token = url, token
        self.room = rtc.Room()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.room.connect(self._url, self._token)

    async def start_publishing(self) -> None:
        rtc = self._rtc
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        options = rtc.TrackPublishOptions()
        options.source = rtc.TrackSource.SOURCE_MICROPHONE
        await self.room.local_participant.publish_track(track, options)
        self._task = asyncio.create_task(self._feed(source))

    async def _feed(self, source: Any) -> None:
        samples = (bytes(range(256)) * (FRAME * 2 // 256 + 1))[: FRAME * 2]
        frame = self._rtc.AudioFrame(samples, SAMPLE_RATE, 1, FRAME)
        while True:  # capture_frame waits while the source's queue is full: real-time pace
            await source.capture_frame(frame)


def room_tokens(server: LiveKitServer, participants: int, rooms: int) -> list[list[str]]:
    """Per room, tokens like the ones meetbridge mints: identity <user>.<device>, the user
    attribute."""
    minted: list[list[str]] = [[] for _ in range(rooms)]
    channels = [ChannelId(mattermost_id()) for _ in range(rooms)]
    for number in range(participants):
        user = mattermost_id()
        request = AccessTokenRequest(
            member_grant(room_name(channels[number % rooms])),
            identity=f"{user}.{secrets.token_hex(3)}",
            name=f"Participant {number}",
            attributes={USER_ATTRIBUTE: user},
        )
        token = mint(server.api_key.key, server.api_key.secret, request, time.time())
        minted[number % rooms].append(token)
    return minted


def publisher_process(url: str, tokens: list[str]) -> subprocess.Popen[bytes]:
    """One room's participants in a process of their own: 50 WebRTC publishers in one Python
    process saturate its core and would measure the load generator, not meetbridge."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.livekit_control_plane", "--publish", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(tokens).encode())
    process.stdin.close()
    return process


async def publish(url: str, tokens: list[str]) -> None:
    """The publisher process: connect everyone, say so, publish until terminated."""
    publishers = [Publisher(url, token) for token in tokens]
    # Everyone connects before anyone feeds audio: the SDK needs a responsive event loop
    # right after each connection.
    await asyncio.gather(*(publisher.connect() for publisher in publishers))
    for publisher in publishers:
        await publisher.start_publishing()
    print("publishing", flush=True)
    await asyncio.Event().wait()


async def run(args: argparse.Namespace) -> None:
    binary = find_or_build_server()
    if binary is None:
        sys.exit("livekit-server is needed: make livekit-build (needs Go)")
    service: ServiceProcess = scratch_service()
    server = LiveKitServer(binary, webhook_urls=(f"{service.url}/api/livekit/webhook",))
    service.env.update(
        MEETBRIDGE_LIVEKIT_URL=server.ws_url,
        MEETBRIDGE_LIVEKIT_API_KEY=server.api_key.key,
        MEETBRIDGE_LIVEKIT_API_SECRET=server.api_key.secret,
    )
    server.start()
    service.start()
    publishers: list[subprocess.Popen[bytes]] = []
    try:
        assert service.process is not None
        pid = service.process.pid
        await asyncio.sleep(3)  # start-up reconciliation and first timers settle
        idle = await measure(pid, args.window)
        print(
            f"idle meetbridge: {idle.percent:.2f}% CPU ({idle.cpu_s * 1000:.0f} ms CPU in "
            f"{idle.wall_s:.0f} s)"
        )
        joined, join_cpu = time.monotonic(), cpu_seconds(pid)
        rooms = room_tokens(server, args.participants, args.rooms)
        publishers = [publisher_process(server.ws_url, room) for room in rooms]
        for process in publishers:  # each prints one line once all its people publish
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            if line.strip() != b"publishing":
                sys.exit(f"a publisher failed: {line!r}")
        print(
            f"{args.participants} participants in {args.rooms} rooms joined and publishing "
            f"in {time.monotonic() - joined:.1f} s"
        )
        await asyncio.sleep(3)  # the join webhooks are applied
        joining = Window(cpu_seconds(pid) - join_cpu, time.monotonic() - joined)
        print(
            f"joining (webhooks in): {joining.cpu_s * 1000:.0f} ms CPU in {joining.wall_s:.1f} s, "
            f"{joining.cpu_s * 1000 / args.participants:.1f} ms per participant"
        )
        active = await measure(pid, args.window)
        extra_ms = (active.cpu_s - idle.cpu_s * active.wall_s / idle.wall_s) * 1000
        per_minute = 60.0 / active.wall_s
        print(
            f"active meetbridge: {active.percent:.2f}% CPU ({active.cpu_s * 1000:.0f} ms CPU in "
            f"{active.wall_s:.0f} s)"
        )
        print(
            f"per participant: {active.cpu_s * 1000 * per_minute / args.participants:.2f} ms "
            f"CPU per minute in total, {extra_ms * per_minute / args.participants:.2f} ms above "
            "idle"
        )
    finally:
        for process in publishers:
            process.terminate()
            process.wait(30)
        service.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--rooms", type=int, default=5)
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured, each")
    parser.add_argument("--publish", metavar="URL", help=argparse.SUPPRESS)  # publisher process
    args = parser.parse_args()
    if args.publish:
        asyncio.run(publish(args.publish, json.loads(sys.stdin.read())))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
