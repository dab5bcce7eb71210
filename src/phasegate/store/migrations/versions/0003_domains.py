"""Domains: the changes of each domain's health state and of its probes' answers, and the
test reports recorded for a domain (``phasegate results add``).

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "domain_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("own_state", sa.String(20), nullable=False),
        sa.Column("cause", sa.String(255)),
        sa.Column("passing", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("observations", sa.Text, nullable=False, server_default="[]"),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_domain_states_domain_at", "domain_states", ["domain", "at"])
    op.create_table(
        "probe_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("probe", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("observation", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_probe_states_domain_at", "probe_states", ["domain", "at"])
    op.create_table(
        "test_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tests", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("cases", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_test_reports_domain_at", "test_reports", ["domain", "recorded_at"])


def downgrade() -> None:
    op.drop_table("test_reports")
    op.drop_table("probe_states")
    op.drop_table("domain_states")
