"""The status page's doctor: findings from the background, a new run only when they are old."""

from __future__ import annotations

import asyncio

from meetbridge.doctor.cached import CachedDoctor
from meetbridge.doctor.results import CheckResult, ok


async def test_a_view_never_waits_and_runs_start_only_when_the_findings_are_old() -> None:
    runs: list[int] = []
    release = asyncio.Event()
    now = [1000.0]

    async def diagnose() -> list[CheckResult]:
        runs.append(len(runs))
        await release.wait()
        return [ok("database", f"run {len(runs)}")]

    doctor = CachedDoctor(diagnose, refresh_after=300.0, clock=lambda: now[0])
    first = doctor.findings()
    assert first.results == () and first.checked_at is None and first.running
    await asyncio.sleep(0)
    assert doctor.findings().running and runs == [0]  # a second view starts no second run
    release.set()
    await asyncio.sleep(0.01)
    done = doctor.findings()
    assert [r.detail for r in done.results] == ["run 1"] and done.checked_at == 1000.0
    assert not done.running and runs == [0]
    now[0] += 301.0
    assert doctor.findings().running  # old: a new run, the old findings meanwhile
    await asyncio.sleep(0.01)
    assert runs == [0, 1]
    await doctor.close()


async def test_a_run_that_breaks_leaves_the_last_findings() -> None:
    async def diagnose() -> list[CheckResult]:
        raise RuntimeError("boom")

    doctor = CachedDoctor(diagnose)
    doctor.findings()
    await asyncio.sleep(0.01)
    found = doctor.findings()
    assert found.results == () and found.checked_at is not None and not found.running
    await doctor.close()
