"""LiveKit from meetbridge's side: its API with meetbridge's keys, a webhook round trip, TURN
(turn.py) and its clock."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx2

from meetbridge.doctor.context import DoctorContext, reason
from meetbridge.doctor.mattermost import clock_result
from meetbridge.doctor.results import CheckResult, fail, ok, skip
from meetbridge.engines.livekit.configured import livekit_settings
from meetbridge.engines.livekit.engine import LiveKitSettings
from meetbridge.engines.livekit.rooms import (
    LiveKitUnauthorizedError,
    LiveKitUnavailableError,
    RoomService,
    build_http_client,
    http_url,
)
from meetbridge.engines.livekit.translator import SOURCE
from meetbridge.store import inbox

NAME = "LiveKit API"
WEBHOOK_WAIT = 10.0
SCRATCH_PREFIX = "meetbridge-doctor-"  # not a channel's room (mb-<channel id>): never a meeting


def configured(ctx: DoctorContext) -> LiveKitSettings:
    if ctx.state is not None:
        return livekit_settings(ctx.config, ctx.state)
    secret = ctx.config.livekit_api_secret
    return LiveKitSettings(
        ctx.config.livekit_url,
        ctx.config.livekit_api_key,
        secret.get_secret_value() if secret else "",
    )


def in_use(ctx: DoctorContext) -> bool:
    settings = configured(ctx)
    default = ctx.state.settings.default_engine if ctx.state else ""
    return settings.complete or default == "livekit"


async def check_livekit(ctx: DoctorContext) -> list[CheckResult]:
    settings = configured(ctx)
    if not settings.complete:
        detail = f"not configured (missing {settings.missing()})"
        if not in_use(ctx):
            return [skip(NAME, detail)]
        return [fail(NAME, detail, "set MEETBRIDGE_LIVEKIT_URL, _API_KEY and _API_SECRET(_FILE)")]
    rooms = RoomService(
        build_http_client(settings.url), settings.api_key, settings.api_secret, ctx.clock
    )
    try:
        api = await _api(rooms, settings)
        if api.status.value != "ok":
            return [api]
        return [api, await _webhook_round_trip(ctx, rooms), await _clock(ctx, settings)]
    finally:
        await rooms.close()


async def _api(rooms: RoomService, settings: LiveKitSettings) -> CheckResult:
    try:
        listed = await rooms.list_rooms()
    except LiveKitUnauthorizedError as exc:
        return fail(
            NAME,
            f"{settings.url} refuses meetbridge's API key {settings.api_key} and its secret "
            f"({exc.code}): the key pair differs from LiveKit's `keys`",
            "give meetbridge and LiveKit the same pair: MEETBRIDGE_LIVEKIT_API_KEY/_SECRET_FILE, "
            "then make LiveKit's config anew with `meetbridge livekit config`",
        )
    except LiveKitUnavailableError as exc:
        return fail(
            NAME,
            f"cannot reach {settings.url}: {reason(exc)}",
            "check MEETBRIDGE_LIVEKIT_URL and the TLS proxy's route to LiveKit",
        )
    return ok(NAME, f"{settings.url} answers with key {settings.api_key} ({len(listed)} rooms)")


async def _webhook_round_trip(ctx: DoctorContext, rooms: RoomService) -> CheckResult:
    name = "LiveKit webhooks"
    if ctx.core is None or ctx.state is None:
        return skip(name, "needs the database (where meetbridge stores what arrives)")
    room = SCRATCH_PREFIX + secrets.token_hex(4)
    started = time.time()
    await rooms.create_room(room, empty_timeout=5)
    try:
        arrived = await _wait_for_webhook(ctx, room, started)
    finally:
        await rooms.delete_room(room)
    if arrived is not None:
        return ok(name, f"a scratch room's room_started arrived signed in {arrived:.2f} s")
    return fail(
        name,
        f"no signed webhook for the scratch room {room} arrived within {WEBHOOK_WAIT:.0f} s",
        f"point LiveKit's webhook at {ctx.public_url}/api/livekit/webhook with api_key "
        "meetbridge's key (`meetbridge livekit config`); meetbridge logs "
        "livekit.webhook_refused for a wrong signature",
    )


async def _wait_for_webhook(ctx: DoctorContext, room: str, since: float) -> float | None:
    assert ctx.core is not None
    deadline = time.monotonic() + WEBHOOK_WAIT
    while time.monotonic() < deadline:
        async with ctx.core.database.read() as conn:
            received = await inbox.received_mentioning(conn, SOURCE, since - 1.0, f'"{room}"')
        if received is not None:
            return max(0.0, received - since)
        await asyncio.sleep(0.2)
    return None


async def _clock(ctx: DoctorContext, settings: LiveKitSettings) -> CheckResult:
    try:
        answer = await ctx.http.get(f"{http_url(settings.url)}/")
    except httpx2.HTTPError as exc:
        return fail("clock (LiveKit)", reason(exc), "check the route to LiveKit")
    return clock_result("clock (LiveKit)", answer.headers.get("date"), ctx.clock.now())
