"""The /meet token check: known tokens in constant time, unknown ones checked against
Mattermost's record of meetbridge's command, with look-ups rate-limited per team and overall."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest

from meetbridge.crypto import SecretBox
from meetbridge.services import command_auth
from meetbridge.services.command_auth import CommandTokenCheck, LookupBudget
from meetbridge.services.shared_state import SharedState
from meetbridge.store.database import Database

TEAM = "t" * 26
OTHER_TEAM = "o" * 26
TOKEN = "mattermost-issued-token-0123"


@dataclass
class ManualClock:
    at: float = 1_000_000.0

    def now(self) -> float:
        return self.at


@dataclass
class MattermostRecord:
    """What Mattermost answers about meetbridge's command, and how often it was asked."""

    tokens: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def __call__(self, team_id: str) -> str | None:
        self.asked.append(team_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.tokens.get(team_id)


def checker(
    record: MattermostRecord | None, clock: ManualClock
) -> tuple[CommandTokenCheck, SharedState]:
    state = SharedState(cast(Database, None), cast(SecretBox, None), clock)
    return CommandTokenCheck(state, record, LookupBudget(clock.now)), state


async def test_a_known_token_is_accepted_without_asking_mattermost() -> None:
    record, clock = MattermostRecord(), ManualClock()
    check, state = checker(record, clock)
    state.remember_command_token(TEAM, TOKEN)
    assert await check.is_valid(TEAM, TOKEN.encode())
    assert record.asked == []


async def test_a_token_mattermost_just_issued_is_accepted_and_remembered() -> None:
    record, clock = MattermostRecord({TEAM: TOKEN}), ManualClock()
    check, state = checker(record, clock)
    assert await check.is_valid(TEAM, TOKEN.encode())
    assert state.command_tokens[TEAM] == TOKEN
    assert await check.is_valid(TEAM, TOKEN.encode())
    assert record.asked == [TEAM]  # the second request needed no look-up


async def test_a_forged_token_stays_refused_and_looks_up_once_a_second_per_team() -> None:
    record, clock = MattermostRecord({TEAM: TOKEN}), ManualClock()
    check, _ = checker(record, clock)
    for _ in range(50):
        assert not await check.is_valid(TEAM, b"forged-token")
    assert record.asked == [TEAM]
    clock.at += 1.0
    assert not await check.is_valid(TEAM, b"forged-token")
    assert record.asked == [TEAM, TEAM]


async def test_look_ups_are_capped_across_teams() -> None:
    record, clock = MattermostRecord(), ManualClock()
    check, _ = checker(record, clock)
    teams = [f"{n:026d}" for n in range(20)]
    for team in teams:
        assert not await check.is_valid(team, b"forged-token")
    assert len(record.asked) == 5
    clock.at += 1.0
    for team in teams:
        await check.is_valid(team, b"forged-token")
    assert len(record.asked) == 10


async def test_requests_at_the_same_time_share_one_look_up() -> None:
    record, clock = MattermostRecord({TEAM: TOKEN}, delay=0.05), ManualClock()
    check, _ = checker(record, clock)
    results = await asyncio.gather(*(check.is_valid(TEAM, TOKEN.encode()) for _ in range(10)))
    assert results == [True] * 10
    assert record.asked == [TEAM]


async def test_malformed_input_is_refused_without_a_look_up() -> None:
    record, clock = MattermostRecord({TEAM: TOKEN}), ManualClock()
    check, state = checker(record, clock)
    state.remember_command_token(TEAM, TOKEN)
    for team, token in [
        ("", TOKEN.encode()),
        ("not a team id", TOKEN.encode()),
        ("é" * 26, TOKEN.encode()),
        (OTHER_TEAM, b""),
    ]:
        assert not await check.is_valid(team, token)
    assert not await check.is_valid(TEAM, "tökén\x00".encode())  # non-ASCII, NUL: just "no"
    assert record.asked == [TEAM]  # only the last one, whose team id is well formed


async def test_without_mattermost_an_unknown_token_is_refused() -> None:
    check, _ = checker(None, ManualClock())
    assert not await check.is_valid(TEAM, TOKEN.encode())


async def test_a_look_up_that_does_not_answer_is_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record, clock = MattermostRecord({TEAM: TOKEN}, delay=5.0), ManualClock()
    check, _ = checker(record, clock)
    monkeypatch.setattr(command_auth, "LOOKUP_TIMEOUT", 0.05)
    assert not await check.is_valid(TEAM, TOKEN.encode())
