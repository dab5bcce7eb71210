"""What each finished step of a run on Temporal returned, one row per step by its
idempotency key (run id + step): a retried activity returns it again. Before, one JSON in
the run's meta held them all and was rewritten, growing, at every step.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_steps",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("output", sa.Text, nullable=False),
    )
    op.create_index("ix_held_steps_run", "held_steps", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_held_steps_run", table_name="held_steps")
    op.drop_table("held_steps")
