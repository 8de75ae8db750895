"""Settings changed on one replica (or by the CLI) reach the others."""

from __future__ import annotations

from meetbridge.clock import SystemClock
from meetbridge.config import ServiceConfig
from meetbridge.core import Core, load_master_key, prepare_schema
from meetbridge.domain.ids import ChannelId
from meetbridge.services.admin import AdminService
from meetbridge.services.shared_state import SharedState
from meetbridge.store.database import open_database


async def test_two_replicas_see_the_same_settings(config: ServiceConfig) -> None:
    key = load_master_key(config)
    replicas = [
        Core(config, open_database(config.effective_database_url), key, SystemClock())
        for _ in range(2)
    ]
    try:
        await prepare_schema(replicas[0], auto_migrate=True)
        states = [SharedState(core.database, core.box, core.clock) for core in replicas]
        for state in states:
            await state.load()
        admin = AdminService(replicas[0].database, replicas[0].box, replicas[0].clock)
        await admin.change_setting("alias_prefix", "mm-", "test")
        await admin.set_channel_allowed(ChannelId("c" * 26), False, "test")
        credentials = await admin.regenerate_credentials("test")
        assert await states[1].refresh() == {"settings", "channel_filter", "credentials"}
        assert states[1].settings.alias_prefix == "mm-"
        assert states[1].disallowed == {"c" * 26}
        assert (
            states[1].credentials is not None
            and states[1].credentials.password == credentials.password
        )
        assert await states[1].refresh() == set()
    finally:
        for core in replicas:
            await core.close()
