"""Steps say where they belong as fields: kind, phase, phase index, tracer; an apply step
keeps its journal and its manifests' fingerprints as JSON.

Stores written before this revision said all of it in the step's name ("phase 2: api ·
gate") and in artifacts named "applied: <phase>" and "rendered: <phase>". This migration
reads those once, here, so nothing else has to: each step gets its fields, and each journal
and fingerprint artifact is attached to the apply step that wrote it (the last apply step of
that phase started before the artifact was written). The old artifacts stay as evidence.

The patterns below are the old layout's, frozen: they must not follow later changes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PHASE = re.compile(r"^phase (\d+): (.+) · (apply|gate|rollback)$")
_TRACER = re.compile(r"^tracer (.+) · (apply|gate)$")
_KINDS = {  # (stage, name) of the old layout's other steps
    ("R", "reality check"): "gate",
    ("P", "plan and approval"): "plan",
    ("V", "all gates again"): "gate",
    ("V", "rollback rehearsal"): "rehearsal",
    ("resume", "resumed"): "resume",
}
_ARTIFACTS = {"applied: ": "journal", "rendered: ": "fingerprints"}

_steps = sa.table(
    "steps", sa.column("id", sa.Integer), sa.column("run_id", sa.String),
    sa.column("stage", sa.String), sa.column("name", sa.String),
    sa.column("started_at", sa.DateTime(timezone=True)), sa.column("kind", sa.String),
    sa.column("phase", sa.String), sa.column("phase_index", sa.Integer),
    sa.column("tracer", sa.String), sa.column("journal", sa.Text),
    sa.column("fingerprints", sa.Text),
)
_artifacts = sa.table(
    "artifacts", sa.column("id", sa.Integer), sa.column("run_id", sa.String),
    sa.column("name", sa.String), sa.column("content", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default=""))
        batch.add_column(sa.Column("phase", sa.String(255)))
        batch.add_column(sa.Column("phase_index", sa.Integer))
        batch.add_column(sa.Column("tracer", sa.String(255)))
        batch.add_column(sa.Column("journal", sa.Text))
        batch.add_column(sa.Column("fingerprints", sa.Text))
    connection = op.get_bind()
    apply_steps = _fill_fields(connection)
    _attach_artifacts(connection, apply_steps)


def _fill_fields(connection: Any) -> dict[tuple[str, str], list[tuple[Any, int]]]:
    """Every step's fields from its name; returns the apply steps per (run, phase), in the
    order they started."""
    rows = connection.execute(
        sa.select(_steps.c.id, _steps.c.run_id, _steps.c.stage, _steps.c.name,
                  _steps.c.started_at).order_by(_steps.c.run_id, _steps.c.id)).all()
    apply_steps: dict[tuple[str, str], list[tuple[Any, int]]] = {}
    last_tracer: dict[str, str] = {}
    for step_id, run_id, stage, name, started in rows:
        values = _fields(stage, name, last_tracer.get(run_id))
        if values.get("tracer"):
            last_tracer[run_id] = values["tracer"]
        if values.get("kind") == "apply" and values.get("phase") is not None:
            apply_steps.setdefault((run_id, values["phase"]), []).append((started, step_id))
        if values:
            connection.execute(sa.update(_steps).where(_steps.c.id == step_id).values(**values))
    return apply_steps


def _fields(stage: str, name: str, tracer: str | None) -> dict[str, Any]:
    phase = _PHASE.match(name) if stage == "I" else None
    if phase:
        return {"kind": phase.group(3), "phase": phase.group(2),
                "phase_index": int(phase.group(1))}
    fired = _TRACER.match(name) if stage == "0" else None
    if fired:
        return {"kind": fired.group(2), "tracer": fired.group(1)}
    if stage == "0" and name.startswith("tracer cleanup "):
        # the cleanup named the namespace; it always followed its own tracer's steps
        return {"kind": "cleanup", "tracer": tracer}
    if stage == "task" and name.startswith("criterion "):
        return {"kind": "criterion"}
    kind = _KINDS.get((stage, name))
    return {"kind": kind} if kind else {}


def _attach_artifacts(connection: Any,
                      apply_steps: dict[tuple[str, str], list[tuple[Any, int]]]) -> None:
    rows = connection.execute(
        sa.select(_artifacts.c.run_id, _artifacts.c.name, _artifacts.c.content,
                  _artifacts.c.created_at).order_by(_artifacts.c.id)).all()
    attached: dict[tuple[int, str], Any] = {}
    for run_id, name, content, created in rows:
        prefix = next((p for p in _ARTIFACTS if name.startswith(p)), None)
        if prefix is None:
            continue
        candidates = [step_id for started, step_id in apply_steps.get(
            (run_id, name[len(prefix):]), []) if started <= created]
        if not candidates:
            continue  # written by no step this store still holds
        column = _ARTIFACTS[prefix]
        try:
            data = json.loads(content)
        except ValueError:
            continue  # not the journal it is named after: left as it is
        key = (candidates[-1], column)
        if column == "journal" and key in attached:
            data = attached[key] + data
        attached[key] = data
    for (step_id, column), data in attached.items():
        connection.execute(sa.update(_steps).where(_steps.c.id == step_id).values(
            {column: json.dumps(data, sort_keys=True)}))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        for column in ("fingerprints", "journal", "tracer", "phase_index", "phase", "kind"):
            batch.drop_column(column)
