"""A fingerprint of everything a database stores, to prove that a request changed nothing.

Every table the database really has (found by inspection, so tables added by a later migration
are covered without touching this file), every row, in a deterministic order that does not
depend on the backend: rows are rendered to canonical text and sorted in Python, so JSON, BLOB
and floating-point columns compare the same way on SQLite and PostgreSQL.

    before = await database_snapshot(database)
    ...  # the request
    assert_unchanged(before, await database_snapshot(database))
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.database import Database


@dataclass(frozen=True)
class Snapshot:
    """Each table's rows as canonical text, sorted; ``digest`` is one hash over all of them."""

    tables: Mapping[str, tuple[str, ...]]

    @property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for name in sorted(self.tables):
            hasher.update(b"\x00table\x00" + name.encode())
            for row in self.tables[name]:
                hasher.update(b"\x00row\x00" + row.encode("utf-8", "surrogatepass"))
        return hasher.hexdigest()

    def without(self, *names: str) -> Snapshot:
        """The same snapshot leaving out these tables."""
        return Snapshot({k: v for k, v in self.tables.items() if k not in names})

    def without_rows(self, name: str, containing: str) -> Snapshot:
        """The same snapshot leaving out the rows of table ``name`` whose text contains this."""
        rows = tuple(row for row in self.tables.get(name, ()) if containing not in row)
        return Snapshot({**self.tables, name: rows} if name in self.tables else self.tables)

    def difference(self, other: Snapshot) -> str:
        """What changed from ``self`` to ``other``, table by table (for assertion messages)."""
        lines = []
        for name in sorted(set(self.tables) | set(other.tables)):
            before, after = set(self.tables.get(name, ())), set(other.tables.get(name, ()))
            lines += [f"{name}: - {row}" for row in sorted(before - after)]
            lines += [f"{name}: + {row}" for row in sorted(after - before)]
        return "\n".join(lines) or "(no difference)"


def _canonical(value: Any) -> str:
    # repr keeps types apart (1 vs "1" vs 1.0) and shows bytes and floats exactly.
    if isinstance(value, memoryview):
        value = bytes(value)
    return repr(value)


def _render(columns: Sequence[str], row: Sequence[Any]) -> str:
    return "{" + ", ".join(f"{c}={_canonical(v)}" for c, v in zip(columns, row, strict=True)) + "}"


def _table_names(sync_conn: Connection) -> list[str]:
    return sorted(inspect(sync_conn).get_table_names())


async def snapshot_connection(conn: AsyncConnection) -> Snapshot:
    names = await conn.run_sync(_table_names)
    tables: dict[str, tuple[str, ...]] = {}
    for name in names:
        # Quoted by the dialect: the names come from the database itself, not from input.
        quoted = conn.dialect.identifier_preparer.format_table(table(name))
        result = await conn.execute(text(f"SELECT * FROM {quoted}"))  # noqa: S608
        columns = list(result.keys())
        tables[name] = tuple(sorted(_render(columns, row) for row in result))
    return Snapshot(tables)


def snapshot_sqlite_file(path: str) -> Snapshot:
    """The same snapshot read straight from the file (read-only): one call instead of one
    thread hop per table, which keeps a digest per Hypothesis example cheap."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        tables: dict[str, tuple[str, ...]] = {}
        for name in sorted(names):
            cursor = conn.execute(f'SELECT * FROM "{name}"')  # noqa: S608 (names from the file)
            columns = [d[0] for d in cursor.description]
            tables[name] = tuple(sorted(_render(columns, row) for row in cursor))
    return Snapshot(tables)


async def database_snapshot(database: Database) -> Snapshot:
    if database.is_sqlite:
        return snapshot_sqlite_file(database.sqlite_path)
    async with database.read() as conn:
        return await snapshot_connection(conn)


async def database_digest(database: Database) -> str:
    return (await database_snapshot(database)).digest


def assert_unchanged(before: Snapshot, after: Snapshot, context: str = "") -> None:
    if before.digest != after.digest:
        where = f" by {context}" if context else ""
        raise AssertionError(f"stored state was changed{where}:\n{before.difference(after)}")
