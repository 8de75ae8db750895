"""Delivering the outbox to the chat platform: cards, statuses, ringing.

Each item is handled at least once and every handler is idempotent, so a retry after an
unknown outcome (Mattermost went away mid-request) does no harm: a card or ringing message whose
post id is not known yet is looked for (by its meetbridge marker in the post props) before it is
created, and created with a stable ``pending_post_id`` that Mattermost de-duplicates; statuses
are compared before being changed.

Claims are short leases (LEASE, ``outbox_lease``) renewed every third of a lease while the batch
is being delivered, so a replica killed mid-delivery holds its items for seconds, not minutes.
If it dies after Mattermost made a post but before the item was marked done, the replica that
takes the item over repeats it: the marker search (the channel's last 100 posts) finds the
post, and a create that slips past it carries the same ``pending_post_id``, which Mattermost
folds into the first post for 30 s (pendingPostIDsCacheTTL), about two leases; so the retry
updates the post rather than posting a second one. A worker that stalled past its lease (lost
its claim) cannot complete an item another took over: completion is checked against the
claim's token (outbox_repo).

Failures are classified (domain/delivery.py): transient ones (no answer, 5xx, a proxy's or
gateway's page, a revoked token, a 403/404 while Mattermost's ping fails) are retried with
back-off for days, and items that carry a final state (cards, statuses, ringing messages) are
never given up on; a refusal by a healthy Mattermost ends the item ``dead``: logged, counted in
/metrics, listed and retried with ``meetbridge outbox dead|retry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from meetbridge.clock import Clock
from meetbridge.domain.delivery import gives_up, retry_delay
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.domain.messages import Messages
from meetbridge.domain.users import display_name
from meetbridge.domain.views import MeetingCard, RingCard, RingState, conversation_title
from meetbridge.ports import (
    Capability,
    ChatPlatform,
    ChatRefusedError,
    ChatUnavailableError,
    Directory,
    DirectoryUnavailableError,
    Engines,
    FileToPost,
)
from meetbridge.services import notifications
from meetbridge.services.shared_state import SharedState
from meetbridge.store import chat_repo, meetings_repo, outbox_repo, recordings_repo
from meetbridge.store.database import Database
from meetbridge.store.outbox_repo import OutboxItem
from meetbridge.waits import wait_event

log = structlog.get_logger(__name__)

LEASE = 15.0  # long enough to ride out a slow commit; renewed while a delivery runs
# Items that render a target's current state: the last one for a card, a status or a ringing
# message is what people see for good (a meeting's end, a status restored, a missed call).
FINAL_STATE_KINDS = frozenset(
    {
        notifications.CARD_SYNC,
        notifications.STATUS_SYNC,
        notifications.RING_UPDATE,
        notifications.RECORDING_UPLOAD,  # the only copy of a recording: never given up
        notifications.TRANSCRIPT_POST,  # likewise the only copy of a transcript
    }
)

# What an engine adds to the outbox (its own cards: Zoom's), registered with register().
Delivery = Callable[[ChatPlatform, dict[str, Any]], Awaitable[None]]


class OutboxWorker:
    def __init__(
        self,
        database: Database,
        platform: ChatPlatform,
        directory: Directory,
        state: SharedState,
        clock: Clock,
        batch_size: int = 20,
        lease: float = LEASE,
    ) -> None:
        self._database = database
        self._platform = platform
        self._directory = directory
        self._state = state
        self._clock = clock
        self._batch_size = batch_size
        self._lease = lease
        self._engines: Engines | None = None
        self._final_state_kinds = set(FINAL_STATE_KINDS)
        self._wakeup = asyncio.Event()
        self._handlers: dict[str, Callable[[dict[str, Any], OutboxItem], Awaitable[None]]] = {
            notifications.CARD_SYNC: self._sync_card,
            notifications.STATUS_SYNC: self._sync_status,
            notifications.RING_START: self._start_ringing,
            notifications.RING_UPDATE: self._update_ring,
            notifications.RING_EXPIRE: self._expire_ring,
            notifications.MEETING_REPLY: self._meeting_reply,
            notifications.RECORDING_UPLOAD: self._upload_recording,
            notifications.TRANSCRIPT_POST: self._post_transcript,
        }
        self.permission_warnings: set[str] = set()

    def use_engines(self, engines: Engines) -> None:
        """Where cards learn an engine's title and whether it ends meetings for everyone."""
        self._engines = engines

    def register(self, kind: str, delivery: Delivery, final_state: bool = False) -> None:
        """Deliver outbox items of ``kind`` (an engine's own) with ``delivery``; ``final_state``
        as for FINAL_STATE_KINDS (never given up on while Mattermost is unreachable)."""

        async def handle(payload: dict[str, Any], item: OutboxItem) -> None:
            await delivery(self._platform, payload)

        self._handlers[kind] = handle
        if final_state:
            self._final_state_kinds.add(kind)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        while True:
            try:
                while await self.process_due():
                    pass
            except Exception:
                log.exception("outbox.batch_failed")
            self._wakeup.clear()
            await wait_event(self._wakeup, poll_interval)

    async def process_due(self) -> int:
        """Handle the items that are due now; returns how many were taken."""
        async with self._database.transaction() as conn:
            items = await outbox_repo.claim(conn, self._clock.now(), self._batch_size, self._lease)
        if not items:
            return 0
        held = {item.id: item for item in items}
        heartbeat = asyncio.create_task(self._keep_leases(held))
        try:
            await self._handle_batch(items, held)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(items)

    async def _handle_batch(self, items: list[OutboxItem], held: dict[int, OutboxItem]) -> None:
        """One item at a time, in order. Sending a batch's cards side by side doubled card
        edits in a busy hour but took the CPU that intake needs: Infinity waited twice as long
        for its acknowledgements (benchmarks/card_latency.py)."""
        delivered: list[OutboxItem] = []
        try:
            for item in items:
                if item.id not in held:  # lost while waiting its turn: another worker has it
                    continue
                if await self._handle(item):
                    delivered.append(item)  # still held (renewed) until marked done below
                else:
                    held.pop(item.id, None)
        except asyncio.CancelledError:
            await self._hand_back(delivered, held)
            raise
        await self._complete(delivered)

    async def _hand_back(self, delivered: list[OutboxItem], held: dict[int, OutboxItem]) -> None:
        """Stopping (SIGTERM) mid-batch: see outbox_repo.hand_back."""
        try:
            async with self._database.transaction() as conn:
                await outbox_repo.hand_back(conn, delivered, held.values(), self._clock.now())
        except Exception:
            log.warning("outbox.release_failed", exc_info=True)

    async def _complete(self, delivered: list[OutboxItem]) -> None:
        """One commit for the whole batch: on an embedded database each commit waits for the
        disk, and one per item made a busy hour's cards queue behind each other's."""
        if not delivered:
            return
        async with self._database.transaction() as conn:
            done = await outbox_repo.complete(conn, delivered, self._clock.now())
        for item in delivered:
            if item.id not in done:
                self._lost(item)

    async def _keep_leases(self, held: dict[int, OutboxItem]) -> None:
        """Renew the leases of the batch's unfinished items until cancelled; an item whose
        claim ran out meanwhile (this worker stalled) is dropped from ``held``."""
        while True:
            await asyncio.sleep(self._lease / 3)
            renewing = list(held.values())
            try:
                async with self._database.transaction() as conn:
                    kept = await outbox_repo.renew(conn, renewing, self._clock.now(), self._lease)
            except Exception:
                log.warning("outbox.lease_renewal_failed", exc_info=True)
                continue
            for item in renewing:
                if item.id not in kept and held.pop(item.id, None) is not None:
                    log.warning("outbox.lease_lost", kind=item.kind, item=item.id)

    async def drain(self, rounds: int = 50) -> None:
        """Handle everything due, including what handling enqueues (tests)."""
        for _ in range(rounds):
            if not await self.process_due():
                return

    async def _handle(self, item: OutboxItem) -> bool:
        """Deliver one item. True: delivered, for the caller to mark done; False: put back for
        a retry, given up, or lost to another worker here."""
        handler = self._handlers.get(item.kind)
        now = self._clock.now
        try:
            if handler is None:
                raise ChatRefusedError(f"unknown outbox item kind {item.kind!r}")
            await handler(item.payload, item)
        except (ChatUnavailableError, DirectoryUnavailableError) as exc:
            age = now() - item.created_at
            if gives_up(age, final_state=item.kind in self._final_state_kinds):
                await self._finish(outbox_repo.give_up, item, now(), str(exc))
                log.error("outbox.gave_up", kind=item.kind, item=item.id, error=str(exc))
                return False
            delay = retry_delay(item.attempts, age) * random.uniform(0.8, 1.2)  # noqa: S311
            async with self._database.transaction() as conn:
                kept = await outbox_repo.retry_later(conn, item, now(), delay, str(exc))
            if not kept:
                self._lost(item)
                return False
            log.info("outbox.retry", kind=item.kind, attempt=item.attempts, delay=round(delay, 1))
            return False
        except ChatRefusedError as exc:
            level = log.error if item.kind in self._final_state_kinds else log.warning
            level("outbox.refused", kind=item.kind, item=item.id, error=str(exc))
            await self._finish(outbox_repo.give_up, item, now(), str(exc))
            return False
        except Exception as exc:
            log.exception("outbox.failed", kind=item.kind)
            await self._finish(outbox_repo.give_up, item, now(), repr(exc))
            return False
        return True

    async def _finish(
        self,
        mark: Callable[[AsyncConnection, OutboxItem, float, str], Awaitable[bool]],
        item: OutboxItem,
        now: float,
        error: str,
    ) -> None:
        async with self._database.transaction() as conn:
            if not await mark(conn, item, now, error):
                self._lost(item)

    @staticmethod
    def _lost(item: OutboxItem) -> None:
        # Our lease ran out and another worker holds the item now: its outcome is theirs.
        log.warning("outbox.claim_lost", kind=item.kind, item=item.id)

    # --- meeting cards -------------------------------------------------------------------

    async def _sync_card(self, payload: dict[str, Any], item: OutboxItem) -> None:
        meeting_id = int(payload["meeting_id"])
        async with self._database.read() as conn:
            # A live card shows who is there; only an ended one lists who attended, which
            # grows with the meeting's history.
            meeting = await meetings_repo.get(conn, meeting_id, attendance=False)
            if meeting is not None and meeting.ended_at is not None:
                meeting = await meetings_repo.get(conn, meeting_id)
            post_id = await chat_repo.card_post(conn, meeting_id)
        if meeting is None:
            return
        card = await self._card(meeting, meeting_id)
        if post_id is None and not self._state.settings.show_notifications:
            # Notifications off: no card (state, /meet status and ringing still work), but the
            # companion plugin's sidebar still follows the meeting.
            await self._platform.announce_meeting(card)
            return
        if post_id is None:
            # Any earlier attempt, of this item or of an older one for the same card, may have
            # created the card before its answer was lost (a timeout while Mattermost hung).
            post_id = await self._platform.find_card(meeting.channel_id, card.key)
            if post_id is not None:
                await self._save_card(meeting, meeting_id, post_id)
        new_post_id = await self._platform.publish_card(card, post_id)
        if post_id is None:
            await self._save_card(meeting, meeting_id, new_post_id)

    async def _save_card(self, meeting: Meeting, meeting_id: int, post_id: str) -> None:
        async with self._database.transaction() as conn:
            await chat_repo.save_card(
                conn, meeting_id, meeting.channel_id, post_id, self._clock.now()
            )

    async def _card(self, meeting: Meeting, meeting_id: int) -> MeetingCard:
        attendees = sorted(meeting.attendees.values(), key=lambda a: a.first_joined_at)
        async with self._database.read() as conn:
            name = await meetings_repo.engine_of(conn, meeting_id) or ""
        engine = self._engines.engine(name) if self._engines is not None else None
        starter = (
            None if meeting.started_by is None else await self._directory.user(meeting.started_by)
        )
        return MeetingCard(
            meeting_id=meeting_id,
            channel_id=meeting.channel_id,
            engine=name if engine is None else engine.title,
            can_end=engine is not None and Capability.END_FOR_ALL in engine.capabilities,
            own_apps=engine is not None and Capability.OWN_APPS in engine.capabilities,
            topic=meeting.topic,
            started_by=await self._name(meeting.started_by),
            started_by_username=None if starter is None else starter.username,
            started_at=meeting.started_at,
            ended_at=meeting.ended_at,
            participants=tuple(p.display_name for p in meeting.participants()),
            attendees=tuple(a.display_name for a in attendees),
            participant_ids=tuple(p.user_id or "" for p in meeting.participants()),
            attendee_ids=tuple(a.user_id or "" for a in attendees),
            locale=await self._directory.default_locale(),  # a channel post: read by many
        )

    async def _name(self, user_id: UserId | None) -> str | None:
        if user_id is None:
            return None
        user = await self._directory.user(user_id)
        return None if user is None else display_name(user, self._state.settings.display_name)

    async def _meeting_reply(self, payload: dict[str, Any], item: OutboxItem) -> None:
        async with self._database.read() as conn:
            meeting = await meetings_repo.get(conn, int(payload["meeting_id"]))
            post_id = await chat_repo.card_post(conn, int(payload["meeting_id"]))
        if meeting is None:
            return
        if post_id is None:  # the card is on its way: the line waits for its thread
            raise ChatUnavailableError("the meeting card is not posted yet")
        await self._platform.post_reply(
            meeting.channel_id, post_id, str(payload["message"]), str(payload["key"])
        )

    async def _thread_of(self, payload: dict[str, Any]) -> str | None:
        """The card post a file goes under (None: the channel itself, for a meeting without a
        card); raises while the card is on its way, so the file waits for its thread."""
        meeting_id = payload.get("meeting_id")
        if not isinstance(meeting_id, int):
            return None
        async with self._database.read() as conn:
            post_id = await chat_repo.card_post(conn, meeting_id)
        if post_id is None:
            raise ChatUnavailableError("the meeting card is not posted yet")
        return post_id

    async def _upload_recording(self, payload: dict[str, Any], item: OutboxItem) -> None:
        post_id = await self._thread_of(payload)
        path = Path(str(payload["path"]))
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            # Deleted only once posted: this is a repeat of an item that got through.
            log.info("outbox.recording_already_posted", file=path.name)
            return
        channel = ChannelId(str(payload["channel_id"]))
        message, key = str(payload["message"]), str(payload["key"])
        file = FileToPost(str(payload["filename"]), str(payload["content_type"]), content)
        posted = await self._platform.post_file_reply(channel, post_id, message, key, file)
        recording_id = payload.get("recording_id")
        if isinstance(recording_id, int):  # before the file goes: a repeat would not know it
            async with self._database.transaction() as conn:
                await recordings_repo.posted(conn, recording_id, posted)
        await asyncio.to_thread(path.unlink, True)  # Mattermost has it now

    async def _post_transcript(self, payload: dict[str, Any], item: OutboxItem) -> None:
        post_id = await self._thread_of(payload)
        paths = [Path(str(f["path"])) for f in payload["files"]]
        try:
            contents = [await asyncio.to_thread(path.read_bytes) for path in paths]
        except FileNotFoundError:
            # Deleted only once posted: this is a repeat of an item that got through.
            log.info("outbox.transcript_already_posted", key=payload["key"])
            return
        files = [
            FileToPost(str(f["filename"]), str(f["content_type"]), content)
            for f, content in zip(payload["files"], contents, strict=True)
        ]
        channel = ChannelId(str(payload["channel_id"]))
        message, key = str(payload["message"]), str(payload["key"])
        await self._platform.post_file_reply(channel, post_id, message, key, *files)
        for path in paths:
            await asyncio.to_thread(path.unlink, True)  # Mattermost has them now

    # --- custom statuses -----------------------------------------------------------------

    async def _sync_status(self, payload: dict[str, Any], item: OutboxItem) -> None:
        user_id = UserId(payload["user_id"])
        async with self._database.read() as conn:
            in_meeting = await meetings_repo.user_in_meeting(conn, user_id)
            ours, previous = await chat_repo.status_backup(conn, user_id)
        if not in_meeting and ours:
            # A final state: a refusal here ends the item dead (counted, listed, retriable),
            # never silently, or the user would keep "In a video conference" for good.
            await self._platform.restore_status(user_id, previous)
            async with self._database.transaction() as conn:
                await chat_repo.drop_status_backup(conn, user_id)
        elif in_meeting and not ours:
            try:
                replaced = await self._platform.set_in_meeting_status(user_id)
            except ChatRefusedError as exc:
                # Setting other users' custom status needs the bot to hold edit_other_users
                # (the system_admin role). Without it meetbridge still works, without statuses.
                if "status" not in self.permission_warnings:
                    self.permission_warnings.add("status")
                    log.warning(
                        "mattermost.custom_status_refused",
                        hint="give the bot the system_admin role to show 'In a video conference'",
                        error=str(exc),
                    )
                return
            async with self._database.transaction() as conn:
                await chat_repo.save_status_backup(conn, user_id, replaced, self._clock.now())

    # --- ringing -------------------------------------------------------------------------

    async def _start_ringing(self, payload: dict[str, Any], item: OutboxItem) -> None:
        meeting_id = int(payload["meeting_id"])
        timeout = self._state.settings.ringing_timeout
        async with self._database.read() as conn:
            meeting = await meetings_repo.get(conn, meeting_id)
        if meeting is None or meeting.is_over or timeout <= 0:
            return
        channel = await self._directory.channel(meeting.channel_id)
        if channel is None or not channel.is_conversation:
            return
        caller = meeting.started_by or next(
            (p.user_id for p in meeting.participants() if p.user_id), None
        )
        present = {p.user_id for p in meeting.participants() if p.user_id}
        callees = [
            member
            for member in await self._directory.members(channel.id)
            if member != caller and member not in present and not await self._is_bot(member)
        ]
        now = self._clock.now()
        async with self._database.transaction() as conn:
            for callee in callees:
                await chat_repo.start_ring(
                    conn, meeting_id, channel.id, caller, callee, now + timeout, now
                )
            for ring in await chat_repo.rings_of(conn, meeting_id):
                if ring.state == chat_repo.RINGING:
                    await notifications.enqueue_ring_update(conn, ring.id, now)
                    await outbox_repo.enqueue(
                        conn,
                        notifications.RING_EXPIRE,
                        {"ring_id": ring.id},
                        now,
                        f"ring-expire:{ring.id}",
                        not_before=ring.expires_at,
                    )

    async def _locale_of(self, user_id: UserId) -> str:
        """The user's language in Mattermost, or the server's when they chose none."""
        user = await self._directory.user(user_id)
        return (
            user.locale
            if user is not None and user.locale
            else await self._directory.default_locale()
        )

    async def _is_bot(self, user_id: UserId) -> bool:
        user = await self._directory.user(user_id)
        return user is None or user.is_bot

    async def _update_ring(self, payload: dict[str, Any], item: OutboxItem) -> None:
        async with self._database.read() as conn:
            ring = await chat_repo.get_ring(conn, int(payload["ring_id"]))
        if ring is None:
            return
        channel = await self._directory.channel(ring.channel_id)
        texts = Messages(await self._locale_of(ring.callee_id))
        view = RingCard(
            ring_id=ring.id,
            callee_id=ring.callee_id,
            meeting_channel_id=ring.channel_id,
            conversation=conversation_title(channel, texts),
            caller=await self._name(ring.caller_id) or texts("card.someone"),
            state=RingState(ring.state),
            expires_at=ring.expires_at,
            locale=texts.locale,
        )
        post_id = await self._platform.publish_ring(view, ring.post_id)
        if post_id != ring.post_id:  # a first message, or the bot's taking over from the plugin
            async with self._database.transaction() as conn:
                await chat_repo.set_ring_post(conn, ring.id, post_id, self._clock.now())

    async def _expire_ring(self, payload: dict[str, Any], item: OutboxItem) -> None:
        ring_id = int(payload["ring_id"])
        async with self._database.transaction() as conn:
            now = self._clock.now()
            if await chat_repo.set_ring_state(conn, ring_id, chat_repo.MISSED, now):
                await notifications.enqueue_ring_update(conn, ring_id, now)
