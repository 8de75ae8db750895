"""The command-token fallback: a /meet whose token meetbridge does not know is checked against
Mattermost's record of meetbridge's command before it is refused (services/command_auth.py).

Forged requests must never turn into more than the rate-limited look-ups: at most one per team
per second and five a second in all, and none for a team_id that is not a Mattermost id (it
would otherwise be sent to Mattermost as is).
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.ids import is_mattermost_id
from meetbridge.services.command_auth import LOOKUP_INTERVAL_PER_TEAM, LOOKUPS_PER_SECOND
from tests.hostile.conftest import HOSTILE, World
from tests.hostile.harness import RawRequest
from tests.hostile.strategies import form_bytes, hostile_text
from tests.hostile.test_mattermost import COMMAND, command_form
from tests.support.mattermost_standin import new_id

LOOKUP = "GET /api/v4/commands"


def lookups(world: World) -> int:
    return world.mattermost.requests.count(LOOKUP)


def forged_command(world: World, team_id: str, token: str) -> RawRequest:
    form = {**command_form(world, world.member_id), "team_id": team_id, "token": token}
    return RawRequest("POST", COMMAND, b"", (), (form_bytes(list(form.items())),))


def within_budget(count: int, teams: int, seconds: float) -> bool:
    """What the look-up budget allows in ``seconds`` for ``teams`` distinct teams."""
    windows = int(seconds) + 1
    per_team = teams * (int(seconds / LOOKUP_INTERVAL_PER_TEAM) + 1)
    return count <= min(LOOKUPS_PER_SECOND * windows, per_team)


def test_forged_command_tokens_cause_no_more_than_the_budgeted_look_ups(world: World) -> None:
    team_ids = st.one_of(
        st.just(world.team_id), st.builds(new_id), hostile_text(40), st.sampled_from(["", "../x"])
    )
    tokens = st.one_of(hostile_text(), st.just(world.command_token + "x"), st.just(""))
    seen: set[str] = set()
    started, before = time.monotonic(), lookups(world)

    @HOSTILE
    @given(team_id=team_ids, token=tokens)
    def check(team_id: str, token: str) -> None:
        asked = lookups(world)
        reply = world.harness.exchange(forged_command(world, team_id, token), refusal_expected=True)
        assert reply.status in (401, 413)
        if is_mattermost_id(team_id) and token:
            seen.add(team_id)
        else:
            assert lookups(world) == asked, f"a look-up for team_id={team_id!r} token={token!r}"

    check()
    made = lookups(world) - before
    assert within_budget(made, len(seen), time.monotonic() - started), (made, len(seen))


def fresh_window() -> None:
    # Earlier tests may have spent this second's look-ups: start the burst in a new window.
    time.sleep(1.05)


def test_a_burst_of_forged_commands_for_one_team_looks_up_once(world: World) -> None:
    fresh_window()
    team_id, before, started = new_id(), lookups(world), time.monotonic()
    for _ in range(40):
        reply = world.harness.exchange(forged_command(world, team_id, "forged"))
        assert reply.status == 401
    made = lookups(world) - before
    assert made >= 1, "the unknown token was checked against Mattermost"
    assert within_budget(made, 1, time.monotonic() - started), made


def test_a_burst_over_many_teams_is_capped_in_all(world: World) -> None:
    fresh_window()
    teams, before, started = [new_id() for _ in range(40)], lookups(world), time.monotonic()
    for team_id in teams:
        world.harness.exchange(forged_command(world, team_id, "forged"), refusal_expected=True)
    made = lookups(world) - before
    assert made >= 1 and within_budget(made, len(teams), time.monotonic() - started), made
