"""The store's tables (SQLAlchemy Core). Changes here need an Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

HEAD_REVISION = "0006"

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("command", String(40), nullable=False),
    Column("plan_name", String(255)),
    Column("plan_path", Text),
    Column("plan_hash", String(64)),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("summary", Text, nullable=False, default=""),
    Column("meta", Text, nullable=False, default="{}"),
    Index("ix_runs_started", "started_at"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("timeout", Float),
    Column("detail", Text, nullable=False, default=""),
    # where the step belongs in its plan, as fields (never parsed back out of ``name``)
    Column("kind", String(20), nullable=False, default=""),
    Column("phase", String(255)),
    Column("phase_index", Integer),
    Column("tracer", String(255)),
    # what the step did, as JSON: an apply step's journal and its manifests' fingerprints
    Column("journal", Text),
    Column("fingerprints", Text),
    # seconds from start to finish, written when it finishes (what /metrics adds up)
    Column("duration", Float),
    Index("ix_steps_run", "run_id"),
)

observations = Table(
    "observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step_id", Integer, ForeignKey("steps.id", ondelete="CASCADE")),
    Column("probe", String(100), nullable=False),
    Column("name", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("fail_fast", Boolean, nullable=False),
    Column("error", Boolean, nullable=False),
    Column("expected", Text, nullable=False),
    Column("observed", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Index("ix_observations_run", "run_id"),
    Index("ix_observations_probe", "probe", "passed"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("observation_id", Integer, ForeignKey("observations.id", ondelete="CASCADE")),
    Column("name", String(255), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_artifacts_run", "run_id"),
)

# The Temporal engine: what each finished step returned, by its idempotency key (run id +
# step), so that a retried activity returns it again instead of doing the step twice.
held_steps = Table(
    "held_steps",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("output", Text, nullable=False),  # JSON, masked as all evidence is
    Index("ix_held_steps_run", "run_id"),
)

# Domains (phasegate.domains): each change of a domain's health state, each change of one of
# its probes' answers, and the test reports recorded for it. Only changes are kept: a domain
# healthy for a month is one row, and "since when" is that row's time.
domain_states = Table(
    "domain_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(255), nullable=False),
    Column("state", String(20), nullable=False),  # healthy, degraded, down, unknown
    Column("own_state", String(20), nullable=False),  # what its own probes said
    Column("cause", String(255)),  # the dependency that is down, when that decides
    Column("passing", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("observations", Text, nullable=False, default="[]"),  # JSON: its probes' answers
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_domain_states_domain_at", "domain", "at"),
)

probe_states = Table(
    "probe_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(255), nullable=False),
    Column("probe", Text, nullable=False),  # the probe's name in domains.yaml
    Column("state", String(20), nullable=False),  # passing, failing, unknown
    Column("observation", Text, nullable=False),  # JSON: the Observation that changed it
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_probe_states_domain_at", "domain", "at"),
)

test_reports = Table(
    "test_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(255), nullable=False),
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),  # the report's file name as given
    Column("tests", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("duration", Float, nullable=False),
    Column("cases", Text, nullable=False),  # JSON: name, classname, outcome, message, time
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_test_reports_domain_at", "domain", "recorded_at"),
)
