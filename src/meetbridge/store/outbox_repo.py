"""The chat outbox: changes meetbridge owes Mattermost, stored with the state that caused them.

Items are written in the same transaction as the change they announce, then delivered by the
outbox worker with retries and back-off, so a Mattermost outage delays cards and statuses but
never loses them. Items with the same ``dedupe_key`` coalesce while they wait: a burst of roster
changes becomes one card update, rendered from the state current when it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import outbox

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    dedupe_key: str | None
    payload: dict[str, Any]
    attempts: int


async def enqueue(
    conn: AsyncConnection,
    kind: str,
    payload: dict[str, Any],
    now: float,
    dedupe_key: str | None = None,
    not_before: float | None = None,
) -> None:
    values = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now if not_before is None else not_before,
        "created_at": now,
        "updated_at": now,
    }
    if dedupe_key is None:
        await conn.execute(insert(outbox).values(**values))
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        dialect_insert(outbox)
        .values(**values)
        # A literal predicate: PostgreSQL matches a partial index only against constants.
        .on_conflict_do_nothing(
            index_elements=["dedupe_key"], index_where=text("status = 'pending'")
        )
    )


async def claim(conn: AsyncConnection, now: float, limit: int, lease: float) -> list[OutboxItem]:
    """Take due items (and items whose previous claimant died) for ``lease`` seconds."""
    due = or_(
        and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now),
        and_(outbox.c.status == RUNNING, outbox.c.next_attempt_at <= now),
    )
    query = select(outbox).where(due).order_by(outbox.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await conn.execute(query))
    if not rows:
        return []
    ids = [row.id for row in rows]
    await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(
            status=RUNNING,
            next_attempt_at=now + lease,
            attempts=outbox.c.attempts + 1,
            updated_at=now,
        )
    )
    return [OutboxItem(r.id, r.kind, r.dedupe_key, r.payload, r.attempts + 1) for r in rows]


async def complete(conn: AsyncConnection, item_id: int, now: float) -> None:
    await conn.execute(
        update(outbox).where(outbox.c.id == item_id).values(status=DONE, updated_at=now)
    )


async def retry_later(
    conn: AsyncConnection, item: OutboxItem, now: float, delay: float, error: str
) -> None:
    """Put the item back, unless a newer one for the same target waits already (it wins)."""
    superseded = item.dedupe_key is not None and (
        await conn.scalar(
            select(func.count()).where(
                outbox.c.dedupe_key == item.dedupe_key, outbox.c.status == PENDING
            )
        )
    )
    await conn.execute(
        update(outbox)
        .where(outbox.c.id == item.id)
        .values(
            status=DONE if superseded else PENDING,
            next_attempt_at=now + delay,
            last_error=error[:2000],
            updated_at=now,
        )
    )


async def give_up(conn: AsyncConnection, item_id: int, now: float, error: str) -> None:
    await conn.execute(
        update(outbox)
        .where(outbox.c.id == item_id)
        .values(status=DEAD, last_error=error[:2000], updated_at=now)
    )


async def backlog(conn: AsyncConnection) -> int:
    count = await conn.scalar(select(func.count()).where(outbox.c.status.in_([PENDING, RUNNING])))
    return int(count or 0)


async def next_due(conn: AsyncConnection) -> float | None:
    value: float | None = await conn.scalar(
        select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status.in_([PENDING, RUNNING]))
    )
    return value
