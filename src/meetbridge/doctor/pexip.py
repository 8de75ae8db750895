"""Pexip Infinity from meetbridge's side: the credentials Infinity uses, and when Infinity was
last heard (policy requests, event-sink posts)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from meetbridge.doctor.context import DoctorContext
from meetbridge.doctor.results import CheckResult, fail, ok, skip, warn
from meetbridge.engines.pexip.policy_seen import last_policy_request
from meetbridge.store.tables import inbox

NAME = "Pexip"
QUIET_FOR = 24 * 3600.0


async def check_pexip(ctx: DoctorContext) -> list[CheckResult]:
    if ctx.core is None or ctx.state is None:
        return [skip(NAME, "needs the database")]
    settings = ctx.state.settings
    if settings.default_engine != "pexip" and not settings.pexip_node:
        return [skip(NAME, "not in use (no pexip_node, and not the default engine)")]
    if ctx.state.credentials is None:
        return [
            fail(
                NAME,
                "no credentials for Infinity yet",
                "start meetbridge once (it makes them), then `meetbridge pexip credentials`",
            )
        ]
    policy = await last_policy_request(ctx.core.database)
    async with ctx.core.database.read() as conn:
        sink = await conn.scalar(
            select(func.max(inbox.c.received_at)).where(inbox.c.source == "pexip")
        )
    seen = f"last policy request {_ago(policy)}, last event-sink post {_ago(sink)}"
    if policy is None:
        return [
            warn(
                NAME,
                f"credentials set; {seen}",
                f"in Infinity's policy profile: external policy server URL "
                f"{ctx.config.policy_base_url} with `meetbridge pexip credentials`",
            )
        ]
    if time.time() - policy > QUIET_FOR:
        return [warn(NAME, f"credentials set; {seen}", "check Infinity's policy profile")]
    return [ok(NAME, f"credentials set; {seen}")]


def _ago(at: float | None) -> str:
    if at is None:
        return "never"
    seconds = max(0, int(time.time() - at))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"
