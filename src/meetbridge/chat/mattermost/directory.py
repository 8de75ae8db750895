"""In-process cache of Mattermost channels and users, for answers that must not wait.

Policy answers come from here. A look-up that misses the cache asks Mattermost, but gives up
after ``lookup_timeout`` (1.5 s by default, ``MEETBRIDGE_MATTERMOST_LOOKUP_TIMEOUT``): Infinity
waits about 5 s for a policy answer before falling back, so a slow Mattermost costs at most that,
never the call. When Mattermost cannot be reached an expired entry is still used (stale beats
unknown); concurrent misses for the same id share one request.

Entries expire after ``ttl`` (5 min); "does not exist" answers after ``negative_ttl`` (30 s).
The WebSocket listener refreshes entries as channels change, so the TTL is only a safety net.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.errors import MattermostError
from meetbridge.chat.mattermost.models import channel_from_json, user_from_json
from meetbridge.clock import Clock
from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.messages import DEFAULT_LOCALE
from meetbridge.domain.users import UserInfo
from meetbridge.ports import DirectoryUnavailableError

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=str)
V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V | None
    expires_at: float


class _TtlCache(Generic[K, V]):
    """A bounded LRU map whose entries expire, with single-flight refresh."""

    def __init__(
        self,
        fetch: Callable[[K], Awaitable[V | None]],
        clock: Clock,
        timeout: float,
        ttl: float,
        negative_ttl: float,
        max_entries: int,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._timeout = timeout
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Future[V | None]] = {}

    async def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > self._clock.now():
            self._entries.move_to_end(key)
            return entry.value
        try:
            return await self._refresh(key)
        except DirectoryUnavailableError:
            if entry is not None and entry.value is not None:
                return entry.value
            raise

    def put(self, key: K, value: V | None) -> None:
        ttl = self._ttl if value is not None else self._negative_ttl
        self._entries[key] = _Entry(value, self._clock.now() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def peek(self, key: K) -> V | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    async def _refresh(self, key: K) -> V | None:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._load(key))
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shield: one caller timing out must not cancel the shared request for the others.
        return await asyncio.shield(future)

    async def _load(self, key: K) -> V | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._fetch(key)
        except (TimeoutError, MattermostError) as exc:
            raise DirectoryUnavailableError(f"Mattermost look-up of {key} failed: {exc!r}") from exc
        self.put(key, value)
        return value


class MattermostDirectory:
    """ChannelDirectory and UserDirectory backed by Mattermost's REST API."""

    def __init__(
        self,
        client: MattermostClient,
        clock: Clock,
        lookup_timeout: float = 1.5,
        ttl: float = 300.0,
        negative_ttl: float = 30.0,
        max_entries: int = 100_000,
    ) -> None:
        options: dict[str, Any] = {
            "clock": clock,
            "timeout": lookup_timeout,
            "ttl": ttl,
            "negative_ttl": negative_ttl,
            "max_entries": max_entries,
        }
        self._client = client
        self.channels: _TtlCache[ChannelId, ChannelInfo] = _TtlCache(self._fetch_channel, **options)
        self.users: _TtlCache[UserId, UserInfo] = _TtlCache(self._fetch_user, **options)
        # Membership changes are pushed by the WebSocket; the short TTL bounds a missed event.
        self.memberships: _TtlCache[str, bool] = _TtlCache(
            self._fetch_membership, **{**options, "ttl": 60.0, "negative_ttl": 15.0}
        )
        self.locales: _TtlCache[str, str] = _TtlCache(self._fetch_default_locale, **options)

    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        return await self.channels.get(channel_id)

    async def user(self, user_id: UserId) -> UserInfo | None:
        return await self.users.get(user_id)

    async def user_now(self, user_id: UserId) -> UserInfo | None:
        """The user as Mattermost has them now, not from the cache (roles that grant access)."""
        self.users.invalidate(user_id)
        return await self.users.get(user_id)

    async def is_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        return bool(await self.memberships.get(f"{channel_id}:{user_id}"))

    async def members(self, channel_id: ChannelId) -> list[UserId]:
        """Everyone in the channel (not cached: used when ringing, off the hot paths)."""
        try:
            members = await self._client.get_channel_members(channel_id)
        except MattermostError as exc:
            raise DirectoryUnavailableError(f"members of {channel_id}: {exc!r}") from exc
        return [UserId(member["user_id"]) for member in members]

    async def is_channel_admin(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether the user administers the channel (not cached: only /meet engine asks)."""
        try:
            member = await self._client.get_channel_member(channel_id, user_id)
        except MattermostError as exc:
            raise DirectoryUnavailableError(f"member {user_id} of {channel_id}: {exc!r}") from exc
        if member is None:
            return False
        return (
            bool(member.get("scheme_admin"))
            or "channel_admin" in str(member.get("roles", "")).split()
        )

    async def default_locale(self) -> str:
        """The server's default language for posts many read (meeting cards, thread notices).

        ``DefaultClientLocale`` from the client configuration, which the bot may read without
        any admin permission (``DefaultServerLocale`` is in the admin-only configuration)."""
        try:
            return await self.locales.get("default") or DEFAULT_LOCALE
        except DirectoryUnavailableError:
            return DEFAULT_LOCALE

    def forget_membership(self, channel_id: str, user_id: str) -> None:
        self.memberships.invalidate(f"{channel_id}:{user_id}")

    def forget_all(self) -> None:
        """After a gap in the WebSocket stream, nothing cached can be trusted."""
        self.channels.clear()
        self.users.clear()
        self.memberships.clear()
        self.locales.clear()

    async def _fetch_membership(self, key: str) -> bool:
        channel_id, _, user_id = key.partition(":")
        return await self._client.get_channel_member(channel_id, user_id) is not None

    async def _fetch_default_locale(self, _: str) -> str:
        locale = (await self._client.get_client_config()).get("DefaultClientLocale")
        return locale if isinstance(locale, str) and locale else DEFAULT_LOCALE

    async def _fetch_channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        data = await self._client.get_channel(channel_id)
        return None if data is None else channel_from_json(data)

    async def _fetch_user(self, user_id: UserId) -> UserInfo | None:
        data = await self._client.get_user(user_id)
        return None if data is None else user_from_json(data)


class UnconfiguredDirectory:
    """Stands in when no Mattermost URL is configured: every look-up is "unavailable"."""

    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def user(self, user_id: UserId) -> UserInfo | None:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def user_now(self, user_id: UserId) -> UserInfo | None:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def is_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def members(self, channel_id: ChannelId) -> list[UserId]:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def is_channel_admin(self, channel_id: ChannelId, user_id: UserId) -> bool:
        raise DirectoryUnavailableError("MEETBRIDGE_MATTERMOST_URL is not configured")

    async def default_locale(self) -> str:
        return DEFAULT_LOCALE
