"""Per-node event-sink cursors (see domain/delivery.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.delivery import NodeCursor
from meetbridge.store.sql import upsert_statement
from meetbridge.store.tables import sink_nodes


async def load(conn: AsyncConnection, source: str, nodes: Iterable[str]) -> dict[str, NodeCursor]:
    wanted = list(set(nodes))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(sink_nodes).where(sink_nodes.c.source == source, sink_nodes.c.node.in_(wanted))
    )
    return {r.node: NodeCursor(r.run_started_at, r.last_seq, r.last_time) for r in rows}


_COLUMNS = ("source", "node", "run_started_at", "last_seq", "last_time")


async def save(conn: AsyncConnection, source: str, cursors: Mapping[str, NodeCursor]) -> None:
    if not cursors:
        return
    rows = [
        {
            "source": source,
            "node": node,
            "run_started_at": cursor.run_started_at,
            "last_seq": cursor.last_seq,
            "last_time": cursor.last_time,
        }
        for node, cursor in cursors.items()
    ]
    await conn.execute(upsert_statement(conn, sink_nodes, _COLUMNS, ["source", "node"]), rows)
