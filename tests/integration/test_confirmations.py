"""Confirmation dialog states: meetbridge's own, current, for one user, usable once on any
replica (issue 9, item 2)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.core import Core, load_master_key, prepare_schema
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.tokens import TokenCodec
from meetbridge.services.confirmations import (
    LIFETIME,
    PURPOSE,
    Claim,
    ConfirmationRefusedError,
    Confirmations,
)
from meetbridge.store.database import open_database

ADMIN, OTHER = UserId("a" * 26), UserId("o" * 26)
CLAIM = Claim(ADMIN, "admin_disallow", ChannelId("c" * 26), "")


@dataclass
class SettableClock:
    at: float = 1_764_470_000.0

    def now(self) -> float:
        return self.at


async def test_a_confirmation_is_used_once_across_replicas(config: ServiceConfig) -> None:
    key, clock = load_master_key(config), SettableClock()
    replicas = [Core(config, open_database(config.effective_database_url), key, clock)]
    replicas.append(Core(config, open_database(config.effective_database_url), key, clock))
    try:
        await prepare_schema(replicas[0], auto_migrate=True)
        first, second = (Confirmations(core.links, core.database, clock) for core in replicas)
        state = first.state_for(CLAIM)
        with pytest.raises(ConfirmationRefusedError, match="another user"):
            second.check(state, OTHER)
        claim = second.check(state, ADMIN)
        assert (claim.user_id, claim.action, claim.channel_id) == (
            ADMIN,
            "admin_disallow",
            "c" * 26,
        )
        await second.use(claim)
        with pytest.raises(ConfirmationRefusedError, match="already used"):
            await first.use(first.check(state, ADMIN))
        await first.use(first.check(first.state_for(CLAIM), ADMIN))  # a new dialog: new nonce

        clock.at += LIFETIME + 1
        with pytest.raises(ConfirmationRefusedError, match="expired"):
            first.check(state, ADMIN)
    finally:
        for core in replicas:
            await core.close()


@pytest.mark.parametrize(
    "fields",
    [
        {"u": ADMIN, "a": "admin_allow", "c": "c" * 26, "t": ""},  # no nonce
        {"u": ADMIN, "a": "admin_allow", "c": "c" * 26, "t": "", "n": ""},
        {"u": ADMIN, "a": 5, "c": "c" * 26, "t": "", "n": "x"},
        {"u": [ADMIN], "a": "admin_allow", "c": "c" * 26, "t": "", "n": "x"},
    ],
)
def test_a_state_with_missing_or_mistyped_fields_is_refused(fields: dict[str, object]) -> None:
    codec, clock = TokenCodec(b"k" * 32), SettableClock()
    state = codec.encode(PURPOSE, fields, clock.now(), 60)
    confirmations = Confirmations(codec, None, clock)  # type: ignore[arg-type]  # no I/O here
    with pytest.raises(ConfirmationRefusedError, match="not valid"):
        confirmations.check(state, ADMIN)


@pytest.mark.parametrize("state", ["", "x", "a.b", "é.é", "\x00", "x" * 5000])
def test_a_state_meetbridge_did_not_make_is_refused(state: str) -> None:
    confirmations = Confirmations(TokenCodec(b"k" * 32), None, SettableClock())  # type: ignore[arg-type]
    with pytest.raises(ConfirmationRefusedError, match="not valid"):
        confirmations.check(state, ADMIN)


def test_a_state_for_another_purpose_is_refused() -> None:
    codec, clock = TokenCodec(b"k" * 32), SettableClock()
    join_link = codec.encode("join", {"u": ADMIN, "a": "x", "c": "c", "t": "", "n": "x"}, 0, 1e10)
    with pytest.raises(ConfirmationRefusedError, match="not valid"):
        Confirmations(codec, None, clock).check(join_link, ADMIN)  # type: ignore[arg-type]
