"""Admin-console sessions, spent sign-in links, and the catalogue of Mattermost channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, insert, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.domain.ids import ChannelId
from meetbridge.store.sql import upsert_statement
from meetbridge.store.tables import (
    admin_sessions,
    channel_catalogue,
    channel_filter,
    used_login_tokens,
)

# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminSession:
    user_id: str
    csrf_token: str
    expires_at: float


async def create_session(
    conn: AsyncConnection, token_hash: str, user_id: str, csrf: str, now: float, expires_at: float
) -> None:
    await conn.execute(
        insert(admin_sessions).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def session(conn: AsyncConnection, token_hash: str, now: float) -> AdminSession | None:
    row = (
        await conn.execute(
            select(admin_sessions).where(
                admin_sessions.c.token_hash == token_hash, admin_sessions.c.expires_at > now
            )
        )
    ).first()
    return None if row is None else AdminSession(row.user_id, row.csrf_token, row.expires_at)


async def end_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash))


async def prune_sessions(conn: AsyncConnection, now: float) -> None:
    await conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now))


async def spend_login_nonce(conn: AsyncConnection, nonce: str, now: float) -> bool:
    """Mark a sign-in link as used; False if it was used before."""
    used = await conn.scalar(select(func.count()).where(used_login_tokens.c.nonce == nonce))
    if used:
        return False
    await conn.execute(insert(used_login_tokens).values(nonce=nonce, used_at=now))
    return True


# --- channel catalogue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    channel_id: ChannelId
    team_name: str
    name: str
    display_name: str
    kind: str
    archived: bool

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.channel_id


@dataclass(frozen=True, slots=True)
class CataloguePage:
    entries: list[CatalogueEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


_COLUMNS = (
    "channel_id",
    "team_id",
    "team_name",
    "name",
    "display_name",
    "kind",
    "archived",
    "updated_at",
)


async def store_catalogue(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        await conn.execute(
            upsert_statement(conn, channel_catalogue, _COLUMNS, ["channel_id"]), list(rows)
        )


async def drop_missing(conn: AsyncConnection, seen: set[str], synced_before: float) -> None:
    """Forget channels the last full sync did not see (deleted for good)."""
    await conn.execute(
        delete(channel_catalogue).where(
            channel_catalogue.c.updated_at < synced_before,
            channel_catalogue.c.channel_id.not_in(seen)
            if seen
            else channel_catalogue.c.channel_id.is_not(None),
        )
    )


def _disallowed_ids() -> object:
    return select(channel_filter.c.channel_id).where(channel_filter.c.allowed.is_(False))


def _matches(query: str) -> ColumnElement[bool]:
    pattern = f"%{query.lower()}%"
    return or_(
        func.lower(channel_catalogue.c.display_name).like(pattern),
        func.lower(channel_catalogue.c.name).like(pattern),
        func.lower(channel_catalogue.c.team_name).like(pattern),
        channel_catalogue.c.channel_id == query.lower(),
    )


async def catalogue_page(
    conn: AsyncConnection, disallowed: bool, query: str, page: int, per_page: int
) -> CataloguePage:
    """One page of the Allowed or Disallowed list, searched by name, team or id."""
    in_filter = channel_catalogue.c.channel_id.in_(_disallowed_ids())  # type: ignore[arg-type]
    condition: ColumnElement[bool] = and_(
        in_filter if disallowed else not_(in_filter),
        channel_catalogue.c.archived.is_(False),
    )
    if query:
        condition = and_(condition, _matches(query))
    total = int(
        await conn.scalar(select(func.count()).select_from(channel_catalogue).where(condition)) or 0
    )
    rows = await conn.execute(
        select(channel_catalogue)
        .where(condition)
        .order_by(
            channel_catalogue.c.team_name,
            channel_catalogue.c.display_name,
            channel_catalogue.c.channel_id,
        )
        .limit(per_page)
        .offset(max(0, page - 1) * per_page)
    )
    entries = [
        CatalogueEntry(
            ChannelId(r.channel_id), r.team_name, r.name, r.display_name, r.kind, r.archived
        )
        for r in rows
    ]
    return CataloguePage(entries, total, page, per_page)


async def catalogue_names(
    conn: AsyncConnection, channel_ids: Sequence[str]
) -> dict[str, CatalogueEntry]:
    if not channel_ids:
        return {}
    rows = await conn.execute(
        select(channel_catalogue).where(channel_catalogue.c.channel_id.in_(list(channel_ids)))
    )
    return {
        r.channel_id: CatalogueEntry(
            ChannelId(r.channel_id), r.team_name, r.name, r.display_name, r.kind, r.archived
        )
        for r in rows
    }


async def disallowed_outside_catalogue(conn: AsyncConnection) -> list[str]:
    """Disallowed channels the catalogue does not know (direct messages, or not synced yet)."""
    rows = await conn.execute(
        select(channel_filter.c.channel_id).where(
            channel_filter.c.allowed.is_(False),
            channel_filter.c.channel_id.not_in(select(channel_catalogue.c.channel_id)),
        )
    )
    return [channel_id for (channel_id,) in rows]
