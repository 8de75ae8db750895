"""What the services need from the outside world, as Protocols the edges implement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from meetbridge.domain.channels import ChannelInfo
from meetbridge.domain.delivery import NodeCursor
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import EngineReport
from meetbridge.domain.users import UserInfo
from meetbridge.domain.views import MeetingCard, RingCard


class DirectoryUnavailableError(Exception):
    """The chat platform could not be asked in time; the answer is unknown (not "no")."""


class ChannelDirectory(Protocol):
    async def channel(self, channel_id: ChannelId) -> ChannelInfo | None:
        """The channel, or None if it does not exist (or the bot may not see it).

        Raises DirectoryUnavailableError when the platform cannot be reached in time.
        """
        ...


class MembershipDirectory(Protocol):
    async def is_member(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether the user belongs to the channel. Raises DirectoryUnavailableError."""
        ...

    async def members(self, channel_id: ChannelId) -> list[UserId]:
        """Everyone in the channel. Raises DirectoryUnavailableError."""
        ...

    async def is_channel_admin(self, channel_id: ChannelId, user_id: UserId) -> bool:
        """Whether the user is an admin of the channel. Raises DirectoryUnavailableError."""
        ...


class UserDirectory(Protocol):
    async def user(self, user_id: UserId) -> UserInfo | None:
        """The user, or None if unknown. Raises DirectoryUnavailableError like channel()."""
        ...

    async def user_now(self, user_id: UserId) -> UserInfo | None:
        """Like user(), but asked of the platform now, never from a cache: for roles that
        grant access (system admin)."""
        ...


class LocaleDirectory(Protocol):
    async def default_locale(self) -> str:
        """The platform's default language (a Mattermost locale code such as "de"), for posts
        many people read; "en" when it cannot be asked. Never raises."""
        ...


class Directory(ChannelDirectory, MembershipDirectory, UserDirectory, LocaleDirectory, Protocol):
    """Channels, memberships and people, as one object (the Mattermost cache)."""


class ChatUnavailableError(Exception):
    """The chat platform could not take the change now; try again later."""


class ChatRefusedError(Exception):
    """The chat platform refused the change for good (permissions, a deleted post...)."""


@dataclass(frozen=True, slots=True)
class FileToPost:
    """A file to attach to a post: its name as shown, its type and its bytes."""

    name: str
    content_type: str
    content: bytes = field(repr=False)


class ChatPlatform(Protocol):
    """The changes meetbridge makes in the chat platform, delivered by the outbox worker.

    Every method is safe to repeat: a retry after an unknown outcome must not duplicate.
    Raises ChatUnavailableError (retry) or ChatRefusedError (give up).
    """

    async def publish_card(self, card: MeetingCard, post_id: str | None) -> str:
        """Create the meeting card (post_id None) or bring it up to date; returns its id."""
        ...

    async def announce_meeting(self, card: MeetingCard) -> None:
        """Tell the channel's clients a meeting's state without a card (notifications off);
        best effort."""
        ...

    async def find_card(self, channel_id: ChannelId, card_key: str) -> str | None:
        """An existing card (MeetingCard.key), if an earlier attempt created it after all."""
        ...

    async def post_reply(
        self, channel_id: ChannelId, root_id: str | None, message: str, key: str
    ) -> str:
        """Post a message in a card's thread, once per ``key``; returns its id."""
        ...

    async def post_file_reply(
        self,
        channel_id: ChannelId,
        root_id: str | None,
        message: str,
        key: str,
        file: FileToPost,
        *more: FileToPost,
    ) -> str:
        """Post a message with files attached (one or more) in a card's thread, once per
        ``key``."""
        ...

    async def publish_ring(self, ring: RingCard, post_id: str | None) -> str:
        """Create or update the ringing message of one callee; returns its id."""
        ...

    async def set_in_meeting_status(self, user_id: UserId) -> object:
        """Show the user as in a meeting; returns what it replaced (to restore later)."""
        ...

    async def restore_status(self, user_id: UserId, previous: object) -> None:
        """Undo set_in_meeting_status, unless the user changed their status since."""
        ...


# --- meeting engines ---------------------------------------------------------------------------
# Each engine (engines/<name>/) implements MeetingEngine for the join path and EventTranslator for
# what it reports; services see engines only through these, never a vendor's field names.


class Capability(StrEnum):
    """What an engine can do, so commands and cards offer only what works."""

    EVENTS = "events"  # reports joins and leaves: cards, ringing and statuses follow it
    EMBEDDED_PAGE = "embedded_page"  # meetbridge's own meeting page can join it
    HOST_CONTROLS = "host_controls"  # meetbridge can mute, remove, hand over host
    END_FOR_ALL = "end_for_all"
    PINS = "pins"  # a host PIN per channel, rotated when a meeting ends
    RECORDING = "recording"  # meetbridge's recorder can join and record it (MeetingRecorder)
    CAPTIONS = "captions"  # meetbridge's captioner can caption it live (MeetingCaptions)
    GUEST_LINKS = "guest_links"  # people outside Mattermost join through expiring guest links
    OWN_APPS = "own_apps"  # people may join in the engine's own apps, which meetbridge cannot close


class EngineUnavailableError(Exception):
    """The engine is not configured or cannot be reached; the message says so to the user."""


class EngineRefusedError(Exception):
    """The engine will not let this user in now (a full meeting, a removed participant)."""


class MeetingRecorder(Protocol):
    """Recording a channel's meeting (LiveKit). Both raise EngineRefusedError with a sentence
    for the user when it cannot be done now; both return the sentence for success."""

    async def start(self, channel_id: ChannelId, user_id: UserId) -> str: ...

    async def stop(self, channel_id: ChannelId, reason: str = "") -> str: ...


class MeetingCaptions(Protocol):
    """Live captions in a channel's meeting (LiveKit). Both raise EngineRefusedError with a
    sentence for the user when it cannot be done now; both return the sentence for success."""

    async def start(self, channel_id: ChannelId, user_id: UserId) -> str: ...

    async def stop(self, channel_id: ChannelId) -> str: ...


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """Someone allowed to meet in a channel (checked by the join service) who wants in."""

    channel: ChannelInfo
    user_id: UserId
    display_name: str


@dataclass(frozen=True, slots=True)
class JoinTarget:
    """Where a join link leads: meetbridge's meeting page with the engine's client
    configuration (``embedded``), or the engine's own web app at ``external_url``."""

    channel: ChannelInfo
    user_id: UserId
    display_name: str
    engine: str
    embedded: bool
    page_config: Mapping[str, object] = field(default_factory=dict)
    external_url: str = ""
    start_muted: bool = True


class MeetingEngine(Protocol):
    """One way of holding meetings (Pexip Infinity, LiveKit, Zoom...)."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str:
        """The engine's name for people ("Pexip Infinity")."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    def missing_configuration(self) -> str | None:
        """What an admin still has to set for this engine, or None when it can be used."""
        ...

    async def prepare(self, channel: ChannelInfo, starter: UserId) -> None:
        """Make sure the engine has a room for the channel's meeting (the /meet start path).

        Raises EngineUnavailableError (unconfigured, unreachable)."""
        ...

    async def join_target(self, request: JoinRequest) -> JoinTarget:
        """What this user's join link leads to. Raises EngineUnavailableError or
        EngineRefusedError with a sentence for the user."""
        ...

    async def end(self, channel_id: ChannelId) -> bool:
        """End the channel's meeting for everyone; False where the engine cannot."""
        ...


@runtime_checkable
class HostControls(Protocol):
    """What an engine with Capability.HOST_CONTROLS does for /meet leave, host and end.

    Raise EngineUnavailableError when the engine cannot be asked now."""

    async def host_of(self, channel_id: ChannelId) -> UserId | None:
        """The host of the channel's running meeting; None when none is running."""
        ...

    async def present_users(self, channel_id: ChannelId) -> list[UserId]:
        """The users with at least one device in the channel's meeting."""
        ...

    async def remove_user(self, channel_id: ChannelId, user_id: UserId) -> int:
        """Take every device of the user out of the meeting (they may come back); how many."""
        ...

    async def hand_host(self, channel_id: ChannelId, user_id: UserId) -> None:
        """Make the user the meeting's host (and nobody else)."""
        ...


@dataclass(frozen=True, slots=True)
class StartRequest:
    """Someone who asked to start the channel's meeting (/meet start, or a button on an
    engine's earlier answer)."""

    channel_id: ChannelId
    user_id: UserId
    topic: str = ""


@dataclass(frozen=True, slots=True)
class StartChoice:
    """A button on an engine's answer; a click goes back to the engine (OwnStartFlow.clicked)
    with ``action`` and ``target``."""

    label: str
    action: str
    target: str
    style: str = "default"


@dataclass(frozen=True, slots=True)
class StartAnswer:
    """What the user is told after asking to start or join a meeting.

    ``join_link``: meetbridge's personal join link (the meeting is ready on meetbridge's side).
    Otherwise the engine answered itself: ``text`` (Markdown) to show, ``goto`` a link to open
    at once (the user's way into the engine's meeting), ``choices`` to offer as buttons (a
    question, or "start another one")."""

    join_link: str = ""
    text: str = ""
    goto: str = ""
    choices: tuple[StartChoice, ...] = ()


@runtime_checkable
class OwnStartFlow(Protocol):
    """An engine whose meetings start in a flow of its own rather than on meetbridge's join
    page (Zoom: the user's account must be connected first, a meeting ID may have to be chosen,
    the meeting is created and joined on the engine). /meet start and the buttons of its
    answers and cards get the engine's answer instead of meetbridge's join link.

    It checks who may meet in the channel itself (a click never went through /meet)."""

    @property
    def button_actions(self) -> frozenset[str]:
        """The button actions its answers and cards carry, which clicks route back to it."""
        ...

    async def start(self, request: StartRequest) -> StartAnswer:
        """Answer /meet start (the user may meet in the channel: checked before)."""
        ...

    async def clicked(
        self, action: str, target: str, channel_id: ChannelId, user_id: UserId
    ) -> StartAnswer:
        """Answer ``user_id``'s click on one of its buttons in the channel (``target``: what
        the button carries: a topic, a meeting)."""
        ...


@runtime_checkable
class Reachability(Protocol):
    """An engine meetbridge can ask whether its server answers (the status page says)."""

    async def reachable(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccountOption:
    value: str
    text: str


@dataclass(frozen=True, slots=True)
class AccountSetting:
    """A choice each user makes for their own engine account (shown by /meet settings)."""

    name: str
    label: str
    options: tuple[AccountOption, ...]
    current: str


class AccountSettingError(ValueError):
    """A submitted account setting names no setting or no option of it."""


@runtime_checkable
class UserAccounts(Protocol):
    """An engine on which users connect an account of their own (Zoom): /meet connect,
    /meet disconnect and /meet settings are its, in words the chat layer renders."""

    def accounts_ready(self) -> bool:
        """Whether users can connect accounts yet (the admin has configured the engine)."""
        ...

    def shared_account(self) -> bool:
        """Whether one account, connected by a system admin, serves everyone."""
        ...

    def connect_link(self, user_id: UserId, channel_id: ChannelId) -> str:
        """A personal link, valid for minutes, that connects ``user_id``'s account."""
        ...

    async def disconnect(self, user_id: UserId, is_admin: bool) -> str:
        """Forget the connection; what to tell the user."""
        ...

    async def account_settings(self, user_id: UserId) -> tuple[AccountSetting, ...]: ...

    async def save_account_setting(self, user_id: UserId, name: str, value: str) -> str:
        """Save one setting; what to tell the user. AccountSettingError for an unknown one."""
        ...


def user_accounts(engine: object) -> UserAccounts | None:
    """The engine's user accounts, if it has them (``object`` as for own_start_flow)."""
    return engine if isinstance(engine, UserAccounts) else None


def own_start_flow(engine: object) -> OwnStartFlow | None:
    """The engine's own start flow, if it has one (typed ``object``: a MeetingEngine narrowed by
    isinstance to a second Protocol is an intersection mypy cannot build)."""
    return engine if isinstance(engine, OwnStartFlow) else None


class StoredEvent(Protocol):
    """An event as the inbox kept it: what a translator reads."""

    @property
    def source(self) -> str: ...
    @property
    def node(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def attempts(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Translation:
    """What one stored event amounts to: its outcome ("applied", "duplicate", "unused",
    "not_ours"), the domain report it states, and where its node's stream is now."""

    outcome: str
    report: EngineReport | None = None
    cursor: NodeCursor | None = None


class EventTranslator(Protocol):
    """Turns an engine's stored events (inbox rows of ``source``) into domain reports about
    meetings of ``engine``. Raises on an event it cannot read: the applier sets it aside."""

    @property
    def source(self) -> str: ...

    @property
    def engine(self) -> str: ...

    @property
    def rotates_pins(self) -> bool:
        """Whether an ended meeting's host PIN is replaced (engines with Capability.PINS)."""
        ...

    def translate(self, event: StoredEvent, cursor: NodeCursor | None) -> Translation:
        """``cursor`` is where the event's node had got to (None for a new node); a retried
        event (attempts > 0) skips the duplicate check it passed when it first came."""
        ...


class Engines(Protocol):
    """The install's engines and which one a channel uses (engines/registry.py)."""

    def engine(self, name: str) -> MeetingEngine | None:
        """The engine called ``name``; None for an unknown one."""
        ...

    def title(self, name: str) -> str:
        """The engine's name for people; ``name`` itself for an unknown engine."""
        ...

    async def engine_for(self, channel_id: ChannelId) -> str: ...

    def accounts(self) -> tuple[str, UserAccounts] | None:
        """The engine (name, accounts) on which users connect accounts of their own, if any."""
        ...
