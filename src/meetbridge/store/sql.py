"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def upsert_statement(
    conn: AsyncConnection, table: Table, columns: Sequence[str], key: Sequence[str]
) -> Any:
    """An INSERT ... ON CONFLICT DO UPDATE for executemany with rows of ``columns``."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in columns if name not in key},
    )


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: Mapping[str, Any],
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """INSERT, or UPDATE the ``update`` columns when a row with the same ``key`` exists.

    With ``update=()`` an existing row is left alone (INSERT ... DO NOTHING).
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table).values(**values)
    columns = [name for name in values if name not in key] if update is None else list(update)
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in columns},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    await conn.execute(statement)
