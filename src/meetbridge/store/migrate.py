"""Running the Alembic migrations from code (the CLI and, for SQLite, ``serve``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from meetbridge.store.database import Database


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "meetbridge.store:migrations")
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def is_current(database: Database) -> bool:
    """Whether the schema is at the newest revision this version of meetbridge knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    async with database.engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    return current == head
