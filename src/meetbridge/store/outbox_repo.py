"""The chat outbox: changes meetbridge owes Mattermost, stored with the state that caused them.

Items are written in the same transaction as the change they announce, then delivered by the
outbox worker with retries and back-off, so a Mattermost outage delays cards and statuses but
never loses them. Items with the same ``dedupe_key`` coalesce while they wait: a burst of roster
changes becomes one card update, rendered from the state current when it is sent. Items of
one target are delivered one at a time (a new one waits while an older one is being sent), so
two attempts at the same card never race each other.

A claim is a short lease that its worker renews while it delivers (``renew``), so the items of a
replica that dies are taken over within seconds. Each claim bumps ``attempts``, which is the
claim's token: completing, retrying or giving up an item succeeds only for the claim that holds
it, so a claimant that stalled past its lease cannot finish an item another worker has taken.

Items end ``done`` (pruned after the retention period) or ``dead`` (kept, counted in /metrics,
listed and retried by ``meetbridge outbox dead|retry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.store.tables import outbox

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An item as claimed; ``attempts`` (this claim's number) is the claim's token."""

    id: int
    kind: str
    dedupe_key: str | None
    payload: dict[str, Any]
    attempts: int
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class DeadItem:
    id: int
    kind: str
    dedupe_key: str | None
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    created_at: float
    died_at: float


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


STOPPED = "meetbridge stopped while delivering this; released for another replica"


async def claim(conn: AsyncConnection, now: float, limit: int, lease: float) -> list[OutboxItem]:
    """Take due items (and items whose previous claimant died) for ``lease`` seconds."""
    due = or_(
        and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now),
        and_(outbox.c.status == RUNNING, outbox.c.next_attempt_at <= now),
    )
    # One attempt per target at a time: a card whose earlier item is still being sent (its
    # lease running) waits, so a second item cannot post the card the first is posting.
    busy = outbox.alias("busy")
    in_flight = (
        select(busy.c.id)
        .where(
            busy.c.dedupe_key == outbox.c.dedupe_key,
            busy.c.status == RUNNING,
            busy.c.next_attempt_at > now,
            busy.c.id != outbox.c.id,
        )
        .exists()
    )
    query = select(outbox).where(due, ~in_flight).order_by(outbox.c.id).limit(limit)
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
    return [
        OutboxItem(r.id, r.kind, r.dedupe_key, r.payload, r.attempts + 1, r.created_at)
        for r in rows
    ]


def _held(item: OutboxItem) -> ColumnElement[bool]:
    """The item is still under this claim (no other worker took it over since)."""
    return and_(
        outbox.c.id == item.id, outbox.c.status == RUNNING, outbox.c.attempts == item.attempts
    )


async def renew(
    conn: AsyncConnection, items: Sequence[OutboxItem], now: float, lease: float
) -> set[int]:
    """Extend the lease of ``items`` still under their claim; returns the ids still held."""
    held: set[int] = set()
    for item in items:
        result = await conn.execute(
            update(outbox).where(_held(item)).values(next_attempt_at=now + lease, updated_at=now)
        )
        if result.rowcount:
            held.add(item.id)
    return held


async def complete(conn: AsyncConnection, items: Sequence[OutboxItem], now: float) -> set[int]:
    """Mark delivered items done; returns the ids marked (an item whose claim was lost is not
    changed)."""
    done: set[int] = set()
    for item in items:
        result = await conn.execute(
            update(outbox).where(_held(item)).values(status=DONE, updated_at=now)
        )
        if result.rowcount:
            done.add(item.id)
    return done


async def retry_later(
    conn: AsyncConnection, item: OutboxItem, now: float, delay: float, error: str
) -> bool:
    """Put the item back, unless a newer one for the same target waits already (it wins);
    False (nothing changed) when its claim was lost."""
    superseded = item.dedupe_key is not None and (
        await conn.scalar(
            select(func.count()).where(
                outbox.c.dedupe_key == item.dedupe_key, outbox.c.status == PENDING
            )
        )
    )
    result = await conn.execute(
        update(outbox)
        .where(_held(item))
        .values(
            status=DONE if superseded else PENDING,
            next_attempt_at=now + delay,
            last_error=error[:2000],
            updated_at=now,
        )
    )
    return bool(result.rowcount)


async def hand_back(
    conn: AsyncConnection,
    delivered: Sequence[OutboxItem],
    claimed: Iterable[OutboxItem],
    now: float,
) -> None:
    """A worker stopping mid-batch: what it delivered is done, the rest of its claim is due
    again at once, so another replica (or this one, restarted) takes it over now rather than
    when the lease runs out. The item being sent had an unknown outcome; handlers are
    idempotent, so sending it again is safe."""
    await complete(conn, delivered, now)
    done = {item.id for item in delivered}
    for item in claimed:
        if item.id not in done:
            await retry_later(conn, item, now, 0.0, STOPPED)


async def give_up(conn: AsyncConnection, item: OutboxItem, now: float, error: str) -> bool:
    """End the item dead; False (nothing changed) when its claim was lost."""
    result = await conn.execute(
        update(outbox)
        .where(_held(item))
        .values(status=DEAD, last_error=error[:2000], updated_at=now)
    )
    return bool(result.rowcount)


async def backlog(conn: AsyncConnection) -> int:
    count = await conn.scalar(select(func.count()).where(outbox.c.status.in_([PENDING, RUNNING])))
    return int(count or 0)


async def next_due(conn: AsyncConnection) -> float | None:
    value: float | None = await conn.scalar(
        select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status.in_([PENDING, RUNNING]))
    )
    return value


async def count_dead(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).where(outbox.c.status == DEAD)) or 0)


async def dead_items(conn: AsyncConnection, limit: int = 100) -> list[DeadItem]:
    rows = await conn.execute(
        select(outbox).where(outbox.c.status == DEAD).order_by(outbox.c.id.desc()).limit(limit)
    )
    return [
        DeadItem(
            r.id,
            r.kind,
            r.dedupe_key,
            r.payload,
            r.attempts,
            r.last_error,
            r.created_at,
            r.updated_at,
        )
        for r in rows
    ]


async def retry_dead(conn: AsyncConnection, ids: list[int] | None, now: float) -> int:
    """Give dead items (these ``ids``, or all when None) a fresh start; returns how many.

    Where a newer item for the same target already waits, that one carries the current state
    and the dead one is closed instead (the pending-key index allows one waiting item per key).
    """
    query = select(outbox.c.id, outbox.c.dedupe_key).where(outbox.c.status == DEAD)
    if ids is not None:
        query = query.where(outbox.c.id.in_(ids))
    revived = 0
    for row in list(await conn.execute(query.order_by(outbox.c.id.desc()))):
        waiting = row.dedupe_key is not None and await conn.scalar(
            select(func.count()).where(
                outbox.c.dedupe_key == row.dedupe_key, outbox.c.status == PENDING
            )
        )
        values: dict[str, Any] = (
            {"status": DONE}
            if waiting
            # created_at restarts the retry window: the admin asked for another try.
            else {"status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
        )
        await conn.execute(
            update(outbox).where(outbox.c.id == row.id).values(updated_at=now, **values)
        )
        revived += 1
    return revived


async def prune_finished(conn: AsyncConnection, before: float) -> int:
    """Delete delivered items last touched before ``before``; dead ones stay until retried."""
    result = await conn.execute(
        delete(outbox).where(outbox.c.status == DONE, outbox.c.updated_at < before)
    )
    return int(result.rowcount or 0)
