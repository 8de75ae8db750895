"""store/tables.py and the Alembic migrations describe the same schema (on both databases):
a table added to one and not the other would pass every test that builds from one of them."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from meetbridge.store import migrate
from meetbridge.store.database import open_database
from meetbridge.store.tables import metadata


def _differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_the_migrated_schema_is_the_one_tables_py_declares(database_url: str) -> None:
    database = open_database(database_url)
    try:
        await migrate.upgrade(database)
        async with database.read() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await database.close()
    assert differences == []
