"""What an admin changes: settings, the channel filter, the Pexip credentials.

Every change is one transaction that also writes the audit log and bumps the revision counter
replicas watch (see shared_state.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from meetbridge.clock import Clock
from meetbridge.crypto import SecretBox, random_password
from meetbridge.domain.ids import ChannelId
from meetbridge.domain.settings import (
    SECRET_SETTINGS,
    RuntimeSettings,
    apply_change,
    checked_secret,
    settings_from_stored,
)
from meetbridge.store import (
    audit_repo,
    channel_filter_repo,
    chat_repo,
    credentials_repo,
    deployment_repo,
    revisions,
    settings_repo,
)
from meetbridge.store.channel_filter_repo import FilterEntry
from meetbridge.store.credentials_repo import PexipCredentials
from meetbridge.store.database import Database

SECRETS_TOPIC = "secrets"


def new_credentials(now: float) -> PexipCredentials:
    return PexipCredentials(
        username=f"meetbridge-{secrets.token_hex(4)}", password=random_password(32), created_at=now
    )


class AdminService:
    def __init__(self, database: Database, box: SecretBox, clock: Clock) -> None:
        self._database = database
        self._box = box
        self._clock = clock

    async def settings(self) -> RuntimeSettings:
        async with self._database.read() as conn:
            return settings_from_stored(await settings_repo.load(conn))

    async def change_setting(self, key: str, value: Any, actor: str) -> RuntimeSettings:
        """Validate and store one setting; raises SettingError (nothing stored) when refused."""
        async with self._database.transaction() as conn:
            current = settings_from_stored(await settings_repo.load(conn))
            changed = apply_change(current, key, value)
            new_value = changed.model_dump(mode="json")[key]
            old_value = current.model_dump(mode="json")[key]
            now = self._clock.now()
            await settings_repo.save(conn, key, new_value, actor, now)
            await audit_repo.record(
                conn,
                actor,
                "setting.changed",
                {"key": key, "from": old_value, "to": new_value},
                now,
            )
        return changed

    async def change_settings(self, changes: dict[str, Any], actor: str) -> RuntimeSettings:
        """Change several settings at once: all are validated first, and either all are
        stored or none (raises SettingError naming the first refused one)."""
        async with self._database.transaction() as conn:
            current = settings_from_stored(await settings_repo.load(conn))
            changed = current
            for key, value in changes.items():
                changed = apply_change(changed, key, value)
            before, after = current.model_dump(mode="json"), changed.model_dump(mode="json")
            now = self._clock.now()
            for key in changes:
                if before[key] != after[key]:
                    await settings_repo.save(conn, key, after[key], actor, now)
                    await audit_repo.record(
                        conn,
                        actor,
                        "setting.changed",
                        {"key": key, "from": before[key], "to": after[key]},
                        now,
                    )
        return changed

    async def set_channels_allowed(
        self, channel_ids: list[ChannelId], allowed: bool, actor: str
    ) -> None:
        """Move channels between the Allowed and Disallowed lists in one change."""
        if not channel_ids:
            return
        async with self._database.transaction() as conn:
            now = self._clock.now()
            for channel_id in channel_ids:
                await channel_filter_repo.set_allowed(conn, channel_id, allowed, actor, now)
            action = "channel.allowed" if allowed else "channel.disallowed"
            await audit_repo.record(conn, actor, action, {"channel_ids": list(channel_ids)}, now)

    async def credentials_to_reveal(self) -> tuple[PexipCredentials, bool]:
        """The credentials, and whether this is the one time the console may show the password
        (the first look after they were generated)."""
        credentials = await self.credentials()
        async with self._database.transaction() as conn:
            revealed = await deployment_repo.get(conn, deployment_repo.CREDENTIALS_REVEALED)
            first_look = revealed != str(credentials.created_at)
            if first_look:
                await deployment_repo.put(
                    conn, deployment_repo.CREDENTIALS_REVEALED, str(credentials.created_at)
                )
        return credentials, first_look

    async def mark_credentials_revealed(self, credentials: PexipCredentials) -> None:
        async with self._database.transaction() as conn:
            await deployment_repo.put(
                conn, deployment_repo.CREDENTIALS_REVEALED, str(credentials.created_at)
            )

    async def audit(self, limit: int, offset: int) -> list[audit_repo.AuditEntry]:
        async with self._database.read() as conn:
            return await audit_repo.recent(conn, limit, offset)

    async def set_secret(self, key: str, value: str, actor: str) -> None:
        """Store one of SECRET_SETTINGS, sealed; the audit log records that, never the value."""
        value = checked_secret(key, value)
        async with self._database.transaction() as conn:
            now = self._clock.now()
            await chat_repo.put_secret(conn, self._box, f"setting:{key}", value, now)
            await revisions.bump(conn, SECRETS_TOPIC)
            await audit_repo.record(conn, actor, "secret.changed", {"key": key}, now)

    async def secrets_set(self) -> dict[str, bool]:
        async with self._database.read() as conn:
            return {
                key: await chat_repo.get_secret(conn, self._box, f"setting:{key}") is not None
                for key in SECRET_SETTINGS
            }

    async def channel_filter(self) -> list[FilterEntry]:
        async with self._database.read() as conn:
            return await channel_filter_repo.entries(conn)

    async def set_channel_allowed(self, channel_id: ChannelId, allowed: bool, actor: str) -> None:
        async with self._database.transaction() as conn:
            now = self._clock.now()
            await channel_filter_repo.set_allowed(conn, channel_id, allowed, actor, now)
            action = "channel.allowed" if allowed else "channel.disallowed"
            await audit_repo.record(conn, actor, action, {"channel_id": channel_id}, now)

    async def credentials(self) -> PexipCredentials:
        """The current Pexip credentials, generated the first time they are asked for."""
        async with self._database.transaction() as conn:
            existing = await credentials_repo.get(conn, self._box)
            if existing is not None:
                return existing
            await credentials_repo.create_if_missing(
                conn, self._box, new_credentials(self._clock.now())
            )
            created = await credentials_repo.get(conn, self._box)
        assert created is not None
        return created

    async def regenerate_credentials(self, actor: str) -> PexipCredentials:
        """New username and password; the old ones stop working within a second everywhere."""
        async with self._database.transaction() as conn:
            fresh = new_credentials(self._clock.now())
            await credentials_repo.replace(conn, self._box, fresh)
            await audit_repo.record(
                conn,
                actor,
                "pexip.credentials_regenerated",
                {"username": fresh.username},
                fresh.created_at,
            )
        return fresh
