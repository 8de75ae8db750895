"""livekit becomes the default engine of new installs; existing installs keep pexip

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

An install that already holds anything (Pexip credentials, meetings, settings) was set up when
Pexip was the default: it is given ``default_engine = pexip`` explicitly, unless an admin chose
one, so upgrading changes nothing for it. A fresh database gets no row and so the new default.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SETTINGS = sa.table(
    "settings",
    sa.column("key", sa.String),
    sa.column("value", sa.JSON),
    sa.column("updated_at", sa.Float),
    sa.column("updated_by", sa.String),
)


_EXISTING_INSTALL = (
    "SELECT 1 FROM pexip_credentials UNION ALL SELECT 1 FROM meetings "
    "UNION ALL SELECT 1 FROM settings LIMIT 1"
)


def _holds_anything(conn: sa.Connection) -> bool:
    return conn.execute(sa.text(_EXISTING_INSTALL)).first() is not None


def upgrade() -> None:
    conn = op.get_bind()
    chosen = conn.execute(sa.text("SELECT 1 FROM settings WHERE key = 'default_engine'")).first()
    if chosen is None and _holds_anything(conn):
        op.bulk_insert(
            _SETTINGS,
            [
                {
                    "key": "default_engine",
                    "value": "pexip",
                    "updated_at": time.time(),
                    "updated_by": "migration:0008",
                }
            ],
        )


def downgrade() -> None:
    # Databases upgraded before the label was corrected carry "migration:0009".
    op.execute(
        "DELETE FROM settings WHERE key = 'default_engine'"
        " AND updated_by IN ('migration:0008', 'migration:0009')"
    )
