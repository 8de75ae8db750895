"""What every meeting page's control call passes before it acts, whatever the engine (issue 20):
the caller still belongs to the channel (a control token lives for the meeting, membership can
end before it does), and the device is within its rate limit (domain/rate_limits.py), counted in
the database so that a page whose calls are spread over replicas gets no more."""

from __future__ import annotations

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.rate_limits import limit_of
from meetbridge.ports import DirectoryUnavailableError, MembershipDirectory
from meetbridge.store import room_state_repo
from meetbridge.store.database import Database

NOT_A_MEMBER = "You are no longer a member of this channel."


async def still_member(
    members: MembershipDirectory, channel_id: ChannelId, user_id: UserId
) -> bool:
    """Whether the user still belongs to the channel (yes when Mattermost cannot say now: the
    WebSocket and the periodic check catch a departure)."""
    try:
        return await members.is_member(channel_id, user_id)
    except DirectoryUnavailableError:
        return True


async def over_limit(
    database: Database, room: str, identity: str, action: str, now: float
) -> str | None:
    """Count the call; the sentence refusing it when the device is over its limit, else None."""
    limit = limit_of(action)
    async with database.transaction() as conn:
        count = await room_state_repo.count_action(
            conn, room, identity, limit.group, now, limit.seconds
        )
    return limit.refusal() if count > limit.count else None
