"""source health, leases and body hash

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

For the service: failure runs (one source_failing per run), the last body's hash (identical bodies
are not parsed again), the guide a source belongs to, and per-source leases for replicas.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import watcher.db.types
from watcher.db.views import ACTION_CHANGES, POLICY_TIMELINE


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_since', watcher.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_body_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('guide', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('lease_until', watcher.db.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    # SQLite drops columns by rebuilding the table, which the views that read it do not survive.
    op.execute("DROP VIEW IF EXISTS policy_timeline")
    op.execute("DROP VIEW IF EXISTS action_changes")
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('guide')
        batch_op.drop_column('last_body_sha256')
        batch_op.drop_column('failing_since')
    op.execute(ACTION_CHANGES)
    op.execute(POLICY_TIMELINE)
