"""The schema, in SQLAlchemy Core. Alembic migrations in ``migrations/`` create it.

Times are Unix seconds as floats (what Infinity sends), which compare and subtract the same way on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT primary keys autoincrement on PostgreSQL; SQLite only does so for INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

pexip_credentials = Table(
    "pexip_credentials",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one set of credentials
    Column("username", String(64), nullable=False),
    Column("password_sealed", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

channel_filter = Table(
    "channel_filter",
    metadata,
    Column("channel_id", String(26), primary_key=True),
    Column("allowed", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

channel_pins = Table(
    "channel_pins",
    metadata,
    Column("channel_id", String(26), primary_key=True),
    Column("pins_sealed", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("node", String(255), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event", String(128), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("body", Text, nullable=False),
    Column("applied_at", Float, nullable=True),
    Column("outcome", String(32), nullable=True),
    # An event whose application failed waits here, with its error, for an admin's retry.
    Column("failed_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index(
        "ix_inbox_pending",
        "id",
        sqlite_where=text("applied_at IS NULL"),
        postgresql_where=text("applied_at IS NULL"),
    ),
    Index(
        "ix_inbox_failed",
        "id",
        sqlite_where=text("failed_at IS NOT NULL"),
        postgresql_where=text("failed_at IS NOT NULL"),
    ),
)

sink_nodes = Table(
    "sink_nodes",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("node", String(255), primary_key=True),
    Column("run_started_at", Float, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_time", Float, nullable=False),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(26), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("conference", String(255), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("participant_count", Integer, nullable=False),
    Column("peak_participants", Integer, nullable=False),
    Column("state", JSON, nullable=False),
    Column("topic", Text, nullable=True),
    Column("started_by", String(26), nullable=True),
    # Bumped by every save: the event applier's in-memory copy is current while it matches.
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_meetings_channel", "channel_id", "started_at"),
    Index("ix_meetings_started", "started_at"),
    # At most one meeting in progress per channel and engine.
    Index(
        "uq_meetings_active",
        "engine",
        "channel_id",
        unique=True,
        sqlite_where=text("ended_at IS NULL"),
        postgresql_where=text("ended_at IS NULL"),
    ),
)

# A meeting's legs and attendance, one row each, written only when that leg or person changes
# (the meeting's ``state`` keeps only its nodes): an event costs the same in a meeting of 1,000
# as in one of 2, however long the attendance list has grown. Keyed by a SHA-256 of the leg's
# uuid or the person: those come from outside and may be longer than an index entry allows.
meeting_legs = Table(
    "meeting_legs",
    metadata,
    Column("meeting_id", BigInteger, primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
)

meeting_attendees = Table(
    "meeting_attendees",
    metadata,
    Column("meeting_id", BigInteger, primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
)

deployment = Table(
    "deployment",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

slash_commands = Table(
    "slash_commands",
    metadata,
    Column("team_id", String(26), primary_key=True),
    Column("command_id", String(26), nullable=False),
    Column("trigger", String(128), nullable=False),
    Column("token_sealed", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
)

integration_secrets = Table(
    "integration_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
)

join_intents = Table(
    "join_intents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(26), nullable=False),
    Column("user_id", String(26), nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("topic", Text, nullable=True),
    Column("issued_at", Float, nullable=False),
    Index("ix_join_intents_channel", "channel_id", "issued_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    # A change already waiting absorbs newer ones for the same target (coalescing).
    Index(
        "uq_outbox_pending_key",
        "dedupe_key",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

meeting_cards = Table(
    "meeting_cards",
    metadata,
    Column("meeting_id", BigId, primary_key=True),
    Column("channel_id", String(26), nullable=False),
    Column("post_id", String(26), nullable=False),
    Column("created_at", Float, nullable=False),
)

ringing = Table(
    "ringing",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("meeting_id", BigId, nullable=False),
    Column("channel_id", String(26), nullable=False),
    Column("caller_id", String(26), nullable=True),
    Column("callee_id", String(26), nullable=False),
    Column("post_id", String(26), nullable=True),
    Column("state", String(16), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("uq_ringing_callee", "meeting_id", "callee_id", unique=True),
)

status_backups = Table(
    "status_backups",
    metadata,
    Column("user_id", String(26), primary_key=True),
    Column("previous", JSON, nullable=True),
    Column("updated_at", Float, nullable=False),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(26), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

used_login_tokens = Table(
    "used_login_tokens",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_at", Float, nullable=False),
)

channel_catalogue = Table(
    "channel_catalogue",
    metadata,
    Column("channel_id", String(26), primary_key=True),
    Column("team_id", String(26), nullable=False),
    Column("team_name", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("kind", String(1), nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_channel_catalogue_display", "display_name"),
)

channel_engines = Table(
    "channel_engines",
    metadata,
    Column("channel_id", String(26), primary_key=True),
    Column("engine", String(16), nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", Float, nullable=False),
)

user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user_id", String(26), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

zoom_connections = Table(
    "zoom_connections",
    metadata,
    # A Mattermost user id, or "account" for the account-level app's single connection.
    Column("owner", String(26), primary_key=True),
    Column("zoom_user_id", String(64), nullable=False),
    Column("zoom_email", String(320), nullable=False),
    Column("pmi", BigInteger, nullable=True),
    Column("tokens_sealed", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Who is refreshing the tokens, and until when (replicas take turns; see zoom_repo).
    Column("refresh_claim", String(32), nullable=True),
    Column("refresh_claimed_until", Float, nullable=True),
)

zoom_meetings = Table(
    "zoom_meetings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(26), nullable=False),
    Column("meeting_id", String(32), nullable=False),
    Column("uuid", String(128), nullable=False),
    Column("join_url", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("creator_id", String(26), nullable=False),
    Column("personal", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("duration_minutes", Integer, nullable=True),
    Column("post_id", String(26), nullable=True),
    Index("ix_zoom_meetings_meeting", "meeting_id"),
    Index("ix_zoom_meetings_channel", "channel_id", "created_at"),
)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("signature", String(128), primary_key=True),
    Column("received_at", Float, nullable=False),
)

# Confirmation dialogs already submitted: each dialog's state applies its change once.
used_confirmations = Table(
    "used_confirmations",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_at", Float, nullable=False),
)

# The state of a running meeting's room that every replica must see (meeting page controls):
# raised hands, recent in-meeting chat, reaction rate windows. Forgotten when the meeting ends,
# and by age (housekeeping) for meetings whose end was missed.
meeting_hands = Table(
    "meeting_hands",
    metadata,
    Column("room", String(64), primary_key=True),
    Column("identity", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("raised_at_ms", BigInteger, nullable=False),
)

meeting_chat = Table(
    "meeting_chat",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("room", String(64), nullable=False),
    Column("line_id", String(200), nullable=False),
    Column("name", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("stored_at", Float, nullable=False),
    Index("ix_meeting_chat_room", "room", "id"),
    Index("ix_meeting_chat_stored", "stored_at"),
)

# Rate windows of meeting-page actions, per device and group of actions (domain/rate_limits.py).
action_windows = Table(
    "action_windows",
    metadata,
    Column("identity", String(128), primary_key=True),
    Column("action_group", String(16), primary_key=True),
    Column("room", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("count", Integer, nullable=False),
    Index("ix_action_windows_room", "room"),
)

# Each user's last connection summary from a meeting page (/meet stats), kept past the meeting.
call_stats = Table(
    "call_stats",
    metadata,
    Column("user_id", String(26), primary_key=True),
    Column("send_kbps", Float, nullable=False),
    Column("receive_kbps", Float, nullable=False),
    Column("packet_loss_percent", Float, nullable=False),
    Column("rtt_ms", Float, nullable=False),
    Column("at", Float, nullable=False),
)

# Members meetbridge made chair in a channel's Pexip meeting (the control API trusts no other).
pexip_host_grants = Table(
    "pexip_host_grants",
    metadata,
    Column("channel_id", String(26), primary_key=True),
    Column("user_id", String(26), primary_key=True),
    Column("granted_at", Float, nullable=False),
)

guest_links = Table(
    "guest_links",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("channel_id", String(26), nullable=False),
    Column("created_by", String(26), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("revoked_by", String(128), nullable=True),
    Index("ix_guest_links_expires_at", "expires_at"),
)

revisions = Table(
    "revisions",
    metadata,
    Column("topic", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_at", "at"),
)

__all__ = [
    "action_windows",
    "admin_sessions",
    "audit_log",
    "call_stats",
    "channel_catalogue",
    "channel_engines",
    "channel_filter",
    "channel_pins",
    "deployment",
    "inbox",
    "integration_secrets",
    "join_intents",
    "meeting_cards",
    "meeting_chat",
    "meeting_hands",
    "meetings",
    "metadata",
    "outbox",
    "pexip_credentials",
    "pexip_host_grants",
    "revisions",
    "ringing",
    "settings",
    "sink_nodes",
    "slash_commands",
    "status_backups",
    "used_login_tokens",
    "user_preferences",
    "webhook_receipts",
    "zoom_connections",
    "zoom_meetings",
]

# LiveKit recordings: one row per recording, from start until its file is handed to the outbox.
recordings = Table(
    "recordings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(26), nullable=False),
    Column("meeting_id", BigInteger, nullable=True),
    Column("room", String(256), nullable=False),
    Column("state", String(16), nullable=False),  # recording | stopping | done | failed
    Column("started_by", String(26), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("path", Text, nullable=False),
    Column("reminded", Boolean, nullable=False, server_default=text("false")),
    Column("stop_reason", Text, nullable=False, server_default=""),
    Column("node", String(255), nullable=False, server_default=""),  # the host its recorder runs on
    # What was posted, for the admin console's meeting history (set when finalised / posted).
    Column("seconds", Float, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("incomplete", Boolean, nullable=False, server_default=text("false")),
    Column("post_id", String(26), nullable=False, server_default=""),
    Index("ix_recordings_state", "state"),
    Index("ix_recordings_meeting", "meeting_id"),
)

transcriptions = Table(
    "transcriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recording_id", BigInteger, nullable=False),
    Column("channel_id", String(26), nullable=False),
    Column("meeting_id", BigInteger, nullable=True),
    Column("speakers_dir", Text, nullable=False),  # the recorder's per-speaker files
    Column("key", String(200), nullable=False),  # the outbox key of the post, stable on retries
    Column("incomplete", Boolean, nullable=False, server_default=text("false")),
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("node", String(255), nullable=False),  # the host holding the files
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The worker running it and until when, renewed while it runs: expired, it is claimable.
    Column("claimed_by", String(128), nullable=False, server_default=""),
    Column("lease_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("audio_seconds", Float, nullable=True),
    Column("processing_seconds", Float, nullable=True),
    Column("error", Text, nullable=False, server_default=""),
    Index("ix_transcriptions_state", "state"),
)
