"""Database engine set-up for the two supported backends.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: an event-sink POST is
answered only after its event is on disk, and that must survive a crash of the machine, not just
of the process. Writers queue behind a generous busy timeout rather than failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from meetbridge.store import advisory_locks

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite has one writer. Left to itself it makes competing connections wait in a busy
        # handler that sleeps 1, 2, 5, 10... ms; queueing them here instead keeps every write
        # (event-sink acks included) to the time it really takes.
        self.write_lock = asyncio.Lock()
        self._exclusive_locks: dict[int, asyncio.Lock] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def sqlite_path(self) -> str:
        path = self.engine.url.database
        if not self.is_sqlite or not path:
            raise ValueError("not a file-backed SQLite database")
        return path

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed when the block ends without an exception.

        On SQLite it starts with BEGIN IMMEDIATE: a transaction that reads first and writes later
        would otherwise fail at once (SQLITE_BUSY_SNAPSHOT) whenever another connection committed
        in between, which the inbox writer does hundreds of times a second.
        """
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.write_lock, self.engine.connect() as conn:
            conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def exclusive(self, key: int) -> AsyncIterator[None]:
        """Runs the block while no other block holding ``key`` runs, in this process and, on
        PostgreSQL, in every replica sharing the database: a transaction-scoped advisory lock,
        so a replica that dies mid-block (its connection closed) releases it. The block does its
        own reads and writes; this connection only holds the lock."""
        lock = self._exclusive_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self.is_sqlite:  # one process per SQLite database: the in-process lock suffices
                yield
                return
            async with self.engine.begin() as conn:
                await advisory_locks.hold_until_commit(conn, key)
                yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading (one consistent snapshot while the block runs)."""
        async with self.engine.connect() as conn:
            yield conn


def normalise_url(url: str) -> str:
    """Accept the plain URLs admins write and pick the async drivers meetbridge ships with."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
    }.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def open_database(url: str, **engine_options: Any) -> Database:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **engine_options)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
    elif parsed.get_backend_name() == "postgresql":
        engine_options.setdefault("pool_size", 10)
        engine_options.setdefault("pool_pre_ping", True)
        engine = create_async_engine(url, **engine_options)
    else:
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    return Database(engine)


def sqlite_connect(path: str) -> sqlite3.Connection:
    """A stdlib connection configured like the engine's, for the inbox's dedicated writer."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    return connection


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite) instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")
