"""Running every check in order, each within a time limit; a check that breaks is a finding."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from meetbridge.config import ServiceConfig
from meetbridge.doctor.context import DoctorContext
from meetbridge.doctor.infrastructure import check_database, check_public_url, open_core
from meetbridge.doctor.livekit import check_livekit, in_use
from meetbridge.doctor.mattermost import check_mattermost
from meetbridge.doctor.pexip import check_pexip
from meetbridge.doctor.results import CheckResult, fail
from meetbridge.doctor.turn import check_turn

CHECK_TIME_LIMIT = 30.0


async def diagnose(config: ServiceConfig) -> list[CheckResult]:
    ctx = DoctorContext.create(config)
    try:
        results = open_core(ctx)
        checks: list[tuple[str, Callable[[], Awaitable[list[CheckResult]]]]] = [
            ("database", lambda: check_database(ctx)),
            ("public URL", lambda: check_public_url(ctx)),
            ("Mattermost", lambda: check_mattermost(ctx)),
            ("LiveKit API", lambda: check_livekit(ctx)),
            ("TURN", lambda: check_turn(ctx, in_use(ctx))),
            ("Pexip", lambda: check_pexip(ctx)),
        ]
        for name, check in checks:
            results += await _guarded(name, check)
        return results
    finally:
        await ctx.close()


async def _guarded(
    name: str, check: Callable[[], Awaitable[list[CheckResult]]]
) -> list[CheckResult]:
    try:
        async with asyncio.timeout(CHECK_TIME_LIMIT):
            return await check()
    except TimeoutError:
        return [fail(name, f"no result within {CHECK_TIME_LIMIT:.0f} s", "see meetbridge's log")]
    except Exception as exc:
        return [fail(name, f"the check broke: {exc!r}", "see meetbridge's log")]
