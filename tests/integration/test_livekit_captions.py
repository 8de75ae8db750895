"""Turning live captions on and off against a real livekit-server: only the host (or a system
admin) may, from the page or with /meet captions; the room's metadata is the switch every page
and the captioner follow; a captioner that crashes is started again a few times, then captions
are turned off with a notice. (The words themselves: tests/browser/test_livekit_captions.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import orjson
import pytest

from meetbridge.chat.mattermost.interactions import NOT_YOURS, Invocation
from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.livekit import captions as captions_module
from meetbridge.engines.livekit.captions import CaptionSettings, LiveKitCaptions
from meetbridge.engines.livekit.engine import room_name
from meetbridge.services.confirmations import Claim
from tests.conftest import RunningApp, running_on_livekit
from tests.integration.test_livekit_controls import Device, act, join
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.mattermost_standin import MattermostStandIn
from tests.support.speech import model_cache, require_transcription

pytest.importorskip("livekit.rtc")
# Captions keep no state in the database (the room's metadata is the switch): SQLite is enough.
pytestmark = [
    pytest.mark.livekit,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    require_transcription()
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        # The shared model cache: the packaged model is reassembled once per machine.
        running_app.components.captions.settings = lambda: CaptionSettings(
            cache=model_cache(), logs=config.data_dir / "captions"
        )
        yield running_app
        for pid in running_app.components.captions.pids():
            with contextlib.suppress(ProcessLookupError):  # a test killed it already
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def meeting(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[tuple[str, str, str, Device, Device]]:
    """Alice (host, started it) and Bob, both connected: (channel, alice, bob, devices)."""
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    alices, bobs = await join(service, channel, alice), await join(service, channel, bob)
    async with AsyncExitStack() as stack:
        for device in (alices, bobs):
            await stack.enter_async_context(
                SignallingParticipant(livekit_server.ws_url, device.livekit_token)
            )
        yield channel, alice, bob, alices, bobs


async def metadata(service: RunningApp, channel: str) -> dict[str, object]:
    [room] = await service.components.livekit.rooms().list_rooms([room_name(ChannelId(channel))])
    return dict(orjson.loads(room.metadata))


async def command(service: RunningApp, user: str, channel: str, text: str) -> str:
    invocation = Invocation(UserId(user), ChannelId(channel), "t" * 26, text)
    return str((await service.components.interactions.command(invocation))["text"])


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    for _ in range(int(timeout * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def alive(pid: int) -> bool:
    """Whether a captioner (a child of this process) still runs; reaps it once it exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


async def exits(pid: int, timeout: float = 30.0) -> None:
    async def gone() -> bool:
        return not alive(pid)

    await until(gone, timeout)


async def test_only_the_host_turns_captions_on_and_off_from_the_page(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, _, _, alice, bob = meeting
    refused = await act(service, bob, "captions", on=True)
    assert refused.status_code == 403
    assert refused.json()["error"] == "Only the meeting's host can do this."
    for body in ({}, {"on": "yes"}, {"on": 1}, {"on": None}):
        assert (await act(service, alice, "captions", **body)).status_code == 400, body
    nothing = await act(service, alice, "captions", on=False)
    assert nothing.status_code == 409
    assert nothing.json()["error"] == "Live captions are not on in this meeting."
    assert "captions" not in await metadata(service, channel)

    assert (await act(service, alice, "captions", on=True)).status_code == 200
    state = await metadata(service, channel)
    assert isinstance(state["captions"], int)
    assert str(state["captioner"]).startswith("meetbridge-captioner-")
    again = await act(service, alice, "captions", on=True)
    assert again.status_code == 409
    assert again.json()["error"] == "Live captions are already on in this meeting."

    assert (await act(service, bob, "captions", on=False)).status_code == 403
    assert (await act(service, alice, "captions", on=False)).status_code == 200
    state = await metadata(service, channel)
    assert "captions" not in state and "captioner" not in state
    assert state["host"] == alice.identity.split(".")[0]  # the rest of the state is kept


async def test_meet_captions_is_for_the_host_and_applied_once_confirmed(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, bob, _, _ = meeting
    interactions = service.components.interactions
    usage = "Use `/meet captions on` or `/meet captions off`."
    assert await command(service, alice, channel, "captions") == usage
    assert await command(service, alice, channel, "captions loud") == usage
    not_host = "Only the meeting's host or a system admin can turn captions on or off."
    assert await command(service, bob, channel, "captions on") == not_host
    # The host's command changes nothing by itself: only a confirmation opened by Mattermost
    # for the user inside the trigger would (this trigger names nobody).
    assert await command(service, alice, channel, "captions on") == NOT_YOURS
    assert "captions" not in await metadata(service, channel)

    # The dialog's submission (its state checked by the dialog endpoint) applies it, after
    # checking the permission again.
    refused = await interactions.submitted(
        Claim(UserId(bob), "captions", ChannelId(channel), "on"), {}
    )
    assert refused == {"error": not_host}
    assert "captions" not in await metadata(service, channel)
    assert (
        await interactions.submitted(Claim(UserId(alice), "captions", ChannelId(channel), "on"), {})
        == {}
    )
    assert "captioner" in await metadata(service, channel)
    again = await interactions.submitted(
        Claim(UserId(alice), "captions", ChannelId(channel), "on"), {}
    )
    assert again == {"error": "Live captions are already on in this meeting."}
    assert (
        await interactions.submitted(
            Claim(UserId(alice), "captions", ChannelId(channel), "off"), {}
        )
        == {}
    )
    assert "captioner" not in await metadata(service, channel)


async def test_the_captioner_leaves_when_another_replica_turns_captions_off(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    captions = service.components.captions
    await captions.start(ChannelId(channel), UserId(alice))
    [pid] = captions.pids()

    async def captioner_present() -> bool:
        rooms = service.components.livekit.rooms()
        present = await rooms.list_participants(room_name(ChannelId(channel)))
        return any(p.identity.startswith("meetbridge-captioner-") for p in present)

    await until(captioner_present, 90)  # the model loads first
    # Not through this replica's stop (no signal): only the metadata changes.
    await service.components.livekit.set_captions(ChannelId(channel), None)
    await exits(pid)
    await captions.supervise()
    assert captions.pids() == []  # it left as asked: not started again


async def test_a_crashing_captioner_is_started_again_then_captions_are_turned_off(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    captions: LiveKitCaptions = service.components.captions
    await captions.start(ChannelId(channel), UserId(alice))
    first = await metadata(service, channel)
    for restart in range(captions_module.MAX_RESTARTS):
        [pid] = captions.pids()
        before = await metadata(service, channel)
        os.kill(pid, signal.SIGKILL)
        await exits(pid)
        await captions.supervise()
        [again] = captions.pids()
        assert again != pid, restart
        after = await metadata(service, channel)
        assert after["captions"] == first["captions"], restart  # still on, since the start
        # A fresh name: a second replica restarting it at once would leave one captioner.
        assert after["captioner"] != before["captioner"], restart
    [pid] = captions.pids()
    os.kill(pid, signal.SIGKILL)
    await exits(pid)
    await captions.supervise()
    assert captions.pids() == []
    assert "captioner" not in await metadata(service, channel)


async def captioners_in_room(service: RunningApp, channel: str) -> list[str]:
    present = await service.components.livekit.rooms().list_participants(
        room_name(ChannelId(channel))
    )
    return [p.identity for p in present if p.identity.startswith("meetbridge-captioner-")]


async def captions_started(service: RunningApp, channel: str, host: str) -> tuple[int, str]:
    """The host turns captions on: the captioner's process id and the identity the room names."""
    await service.components.captions.start(ChannelId(channel), UserId(host))
    [pid] = service.components.captions.pids()
    return pid, str((await metadata(service, channel))["captioner"])


def restarted(service: RunningApp, orphan_grace: float) -> LiveKitCaptions:
    """The captions of a meetbridge started again on the same host (nothing in memory)."""
    before = service.components.captions
    return LiveKitCaptions(
        before.engine, before.clock, before.settings, orphan_grace=orphan_grace, room_check=0
    )


async def test_a_restarted_meetbridge_watches_the_running_captioner_and_restarts_it_if_it_dies(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    pid, identity = await captions_started(service, channel, alice)

    async def present() -> bool:
        return await captioners_in_room(service, channel) == [identity]

    await until(present, 90)
    after = restarted(service, orphan_grace=3600)
    await after.supervise()
    assert after.pids(ChannelId(channel)) == [pid]  # watched again, not replaced
    await after.supervise()
    assert after.pids(ChannelId(channel)) == [pid]
    assert await captioners_in_room(service, channel) == [identity]

    os.kill(pid, signal.SIGKILL)
    await exits(pid)
    await after.supervise()
    [again] = after.pids(ChannelId(channel))
    assert again != pid
    renamed = (await metadata(service, channel))["captioner"]
    assert renamed != identity

    async def replaced() -> bool:
        return await captioners_in_room(service, channel) == [renamed]

    await until(replaced, 90)
    os.kill(again, signal.SIGKILL)  # not a child of this test's `service`: cleaned up here
    await exits(again)


async def test_captions_whose_captioner_died_unwatched_get_a_new_one_after_the_grace(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    pid, identity = await captions_started(service, channel, alice)
    os.kill(pid, signal.SIGKILL)  # while no meetbridge watches it
    await exits(pid)

    patient = restarted(service, orphan_grace=3600)
    await patient.supervise()
    assert (
        patient.pids(ChannelId(channel)) == []
    )  # it may be loading its model on another host: wait
    assert (await metadata(service, channel))["captioner"] == identity

    after = restarted(service, orphan_grace=0)
    await after.supervise()
    [again] = after.pids(ChannelId(channel))
    renamed = (await metadata(service, channel))["captioner"]
    assert renamed != identity

    async def joined() -> bool:
        return await captioners_in_room(service, channel) == [renamed]

    await until(joined, 90)
    await patient.supervise()
    assert patient.pids(ChannelId(channel)) == [
        again
    ]  # the other replica on this host watches it too
    os.kill(again, signal.SIGKILL)
    await exits(again)


async def test_a_captioner_not_named_by_its_room_is_not_adopted(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    captions = service.components.captions
    await captions.start(ChannelId(channel), UserId(alice))
    [pid] = captions.pids()
    await service.components.livekit.set_captions(ChannelId(channel), None)  # turned off
    after = restarted(service, orphan_grace=0)
    await after.supervise()
    assert after.pids(ChannelId(channel)) == []
    assert "captioner" not in await metadata(service, channel)
    await exits(pid, 90)  # it leaves by itself once its model is loaded


async def test_two_replicas_restarting_a_dead_captioner_at_once_leave_one_in_the_room(
    service: RunningApp, meeting: tuple[str, str, str, Device, Device]
) -> None:
    channel, alice, _, _, _ = meeting
    first = service.components.captions
    await first.start(ChannelId(channel), UserId(alice))
    [pid] = first.pids(ChannelId(channel))
    second = restarted(service, orphan_grace=3600)  # another replica on this host
    await second.supervise()
    assert second.pids(ChannelId(channel)) == [pid]  # both watch it

    os.kill(pid, signal.SIGKILL)
    await exits(pid)
    await asyncio.gather(first.supervise(), second.supervise())  # both see it die
    # Each may have started one (and watch the other's, named in the metadata, too).
    started = set(first.pids(ChannelId(channel)) + second.pids(ChannelId(channel)))
    assert 1 <= len(started) <= 2 and pid not in started
    named = (await metadata(service, channel))["captioner"]

    async def one_left() -> bool:
        await asyncio.gather(first.supervise(), second.supervise())
        return await captioners_in_room(service, channel) == [named]

    await until(one_left, 90)
    for _ in range(3):  # the one not named left by itself, and nobody starts it again
        await asyncio.sleep(1)
        await asyncio.gather(first.supervise(), second.supervise())
        assert await captioners_in_room(service, channel) == [named]
        assert (await metadata(service, channel))["captioner"] == named
    for running in set(second.pids(ChannelId(channel))) - set(first.pids(ChannelId(channel))):
        os.kill(running, signal.SIGKILL)  # not watched by this test's `service`
        await exits(running)
