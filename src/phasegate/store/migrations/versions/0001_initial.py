"""The first schema: runs, steps, observations, artifacts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("command", sa.String(40), nullable=False),
        sa.Column("plan_name", sa.String(255)),
        sa.Column("plan_path", sa.Text),
        sa.Column("plan_hash", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("timeout", sa.Float),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_steps_run", "steps", ["run_id"])
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("step_id", sa.Integer, sa.ForeignKey("steps.id", ondelete="CASCADE")),
        sa.Column("probe", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("fail_fast", sa.Boolean, nullable=False),
        sa.Column("error", sa.Boolean, nullable=False),
        sa.Column("expected", sa.Text, nullable=False),
        sa.Column("observed", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
    )
    op.create_index("ix_observations_run", "observations", ["run_id"])
    op.create_index("ix_observations_probe", "observations", ["probe", "passed"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("observation_id", sa.Integer,
                  sa.ForeignKey("observations.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_artifacts_run", "artifacts", ["run_id"])


def downgrade() -> None:
    for table in ("artifacts", "observations", "steps", "runs"):
        op.drop_table(table)
