"""partial index for the wildcard grants that ``watcher when`` looks up

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WILDCARD = sa.text("action_lc LIKE '%*%'")


def upgrade() -> None:
    op.create_index(
        "ix_policy_actions_wildcard",
        "policy_actions",
        ["service"],
        unique=False,
        sqlite_where=WILDCARD,
        postgresql_where=WILDCARD,
    )


def downgrade() -> None:
    op.drop_index("ix_policy_actions_wildcard", table_name="policy_actions")
