"""A new install meets on LiveKit; an install upgraded from before LiveKit keeps Pexip, so
its admin has nothing to do (migration 0009)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select

from meetbridge.store import migrate
from meetbridge.store.database import Database, open_database
from meetbridge.store.tables import pexip_credentials, settings

BEFORE_LIVEKIT = "0007"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    opened = open_database(database_url)
    yield opened
    await opened.close()


async def default_engine(database: Database) -> object:
    async with database.read() as conn:
        return await conn.scalar(select(settings.c.value).where(settings.c.key == "default_engine"))


async def test_a_new_install_stores_no_engine_and_so_uses_livekit(database: Database) -> None:
    await migrate.upgrade(database)
    assert await default_engine(database) is None  # RuntimeSettings' default: livekit


async def test_an_existing_pexip_install_keeps_pexip_after_the_upgrade(
    database: Database,
) -> None:
    await migrate.upgrade(database, BEFORE_LIVEKIT)
    async with database.transaction() as conn:
        await conn.execute(
            insert(pexip_credentials).values(
                id=1, username="infinity", password_sealed=b"x", created_at=1.0
            )
        )
    await migrate.upgrade(database)
    assert await default_engine(database) == "pexip"


async def test_an_engine_an_admin_chose_is_left_alone(database: Database) -> None:
    await migrate.upgrade(database, BEFORE_LIVEKIT)
    async with database.transaction() as conn:
        await conn.execute(
            insert(settings).values(
                key="default_engine", value="zoom", updated_at=1.0, updated_by="admin"
            )
        )
    await migrate.upgrade(database)
    assert await default_engine(database) == "zoom"
