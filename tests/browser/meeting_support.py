"""Shared helpers for the meeting page's browser tests: the built assets, an axe-core audit,
and WebRTC statistics read from inside the page."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.support.requirements import require

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
BUILT = ROOT / "src" / "meetbridge" / "web" / "static" / "meeting"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def build_meeting_assets() -> Path:
    """The built meeting page; built here (npm ci && npm run build) when missing or stale."""
    sources = [
        *WEB.glob("src/**/*"),
        WEB / "package-lock.json",
        WEB / "vite.config.ts",
        ROOT / "src" / "meetbridge" / "web" / "templates" / "meeting.html",
    ]
    built = BUILT / "meeting.js"
    if not built.exists() or built.stat().st_mtime < _newest(sources):
        npm = shutil.which("npm")
        require(npm is not None, "npm (to build the meeting page in web/)")
        assert npm is not None
        env = {**os.environ, "CI": "true"}
        if not (WEB / "node_modules" / ".package-lock.json").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, env=env, check=True)
        subprocess.run([npm, "run", "build"], cwd=WEB, env=env, check=True)
    require(built.exists(), "the built meeting page (cd web && npm ci && npm run build)")
    return BUILT


async def serious_accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2 A/AA)."""
    require(AXE.exists(), "axe-core (cd web && npm ci)")
    await page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                resultTypes: ['violations'],
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary).slice(0, 5),
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


# Recorded before any page script runs, so that the test can read every connection's stats.
RECORD_PEER_CONNECTIONS = """
(() => {
    const Original = window.RTCPeerConnection;
    window.__peerConnections = [];
    window.RTCPeerConnection = class extends Original {
        constructor(...args) {
            super(...args);
            window.__peerConnections.push(this);
        }
    };
})();
"""


async def inbound_bytes(page: Page) -> dict[str, int]:
    """Bytes received so far per kind (audio, video) and per inbound video stream count."""
    result: dict[str, int] = await page.evaluate(
        """async () => {
            const totals = {audio: 0, video: 0, videoStreams: 0};
            for (const pc of window.__peerConnections || []) {
                if (pc.connectionState === 'closed') continue;
                const stats = await pc.getStats();
                stats.forEach(report => {
                    if (report.type !== 'inbound-rtp') return;
                    totals[report.kind] += report.bytesReceived || 0;
                    if (report.kind === 'video' && report.bytesReceived > 0) totals.videoStreams += 1;
                });
            }
            return totals;
        }"""
    )
    return result


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.25
) -> None:
    """Polls ``condition`` until it holds; fails with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(interval)


async def media_flows(page: Page, kinds: tuple[str, ...], timeout: float = 20.0) -> None:
    """Inbound bytes of each kind rise by a clear margin (not just a first packet)."""
    start = await inbound_bytes(page)

    async def rising() -> bool:
        now = await inbound_bytes(page)
        return all(now[kind] - start[kind] > 4000 for kind in kinds)

    await eventually(rising, timeout, f"inbound {', '.join(kinds)} bytes rising")
