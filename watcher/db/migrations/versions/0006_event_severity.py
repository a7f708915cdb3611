"""event severity

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Every change event carries a severity (info, low, medium, high, critical), also in its payload; the column makes
"what was high or critical this week" an indexed query, and the action_changes view shows it. Events stored
before this revision keep a null severity: they were never rated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from watcher.db.views import ACTION_CHANGES, ACTION_CHANGES_V2

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS action_changes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("severity", sa.String(length=10), nullable=True))
        batch_op.create_index(batch_op.f("ix_events_severity"), ["severity"], unique=False)
    op.execute(ACTION_CHANGES_V2)


def downgrade() -> None:
    # SQLite drops a column by rebuilding the table, which a view that reads it does not survive.
    op.execute("DROP VIEW IF EXISTS action_changes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_severity"))
        batch_op.drop_column("severity")
    op.execute(ACTION_CHANGES)
