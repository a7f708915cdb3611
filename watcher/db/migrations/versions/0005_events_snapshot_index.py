"""index events by snapshot

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

A digest looks up the updates rows its check found (events of the same snapshot): without this index
each delivery scanned every updates-row event ever stored (outbox bench: 88 -> 246 rows/s on SQLite).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_snapshot_id", "events", ["snapshot_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_snapshot_id", table_name="events")
