"""Runs indexed by their start: every list of runs is newest first, and one page far down
it (the dashboard's runs, ``phasegate runs``, ``--since``) sorted every run without it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_started", "runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_started", table_name="runs")
