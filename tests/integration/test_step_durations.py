"""Steps keep their duration, written when they finish (what ``/metrics`` adds up), and a
store written before revision 0005 gets its finished steps' durations when today's
phasegate opens it. The old store is written by the old code itself: the source of the
last commit of revision 0004, running ``phasegate check`` of a plan of file probes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from phasegate.store import database, records, tables, totals
from phasegate.store.evidence import EvidenceStore

ROOT = Path(__file__).resolve().parents[2]
LAST_0004 = "4cb84d7603da6afe6b643dc6ec5aa4e4c3f5ef89"  # the last commit of store revision 0004
PLAN = {"apiVersion": "phasegate/v1", "kind": "Plan", "metadata": {"name": "marker"},
        "assumptions": {"probes": [{"file": {"path": "marker.txt"}}]}}


def _old_check(tmp_path: Path, store: Path) -> None:
    where = tmp_path / "old-phasegate"
    where.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", LAST_0004, "src"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    (tmp_path / "marker.txt").write_text("ready\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(json.dumps(PLAN))
    env = {**os.environ, "PYTHONPATH": str(where / "src")}
    done = subprocess.run(
        [sys.executable, "-c", "import sys, phasegate; assert phasegate.__file__.startswith("
         f"{str(where)!r}); from phasegate.cli.main import main; sys.argv[0] = 'phasegate'; "
         "main()", "check", str(plan), "--store", str(store)],
        env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_finished_step_keeps_its_duration(tmp_path: Path) -> None:
    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("check", plan_name="shop")
    gate = store.start_step(run, "R", "reality check", place=records.StepPlace(records.GATE))
    waiting = store.start_step(run, "I", "phase 1: api · gate",
                               place=records.StepPlace(records.GATE, "api", 1))
    store.finish_step(gate, "passed")
    with store.engine.connect() as connection:
        rows = dict(connection.execute(tables.steps.select().with_only_columns(
            tables.steps.c.id, tables.steps.c.duration)).all())
    assert rows[waiting] is None  # still running: no duration yet
    (step,) = [s for s in store.load(run).steps if s.name == "reality check"]
    assert step.finished is not None
    assert abs(rows[gate] - (step.finished - step.started).total_seconds()) < 0.002
    (counted,) = totals.gates(store, (60.0,))
    assert (counted.plan, counted.count, counted.seconds) == ("shop", 1, rows[gate])
    store.close()


def test_an_old_store_gets_its_finished_steps_durations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_check(tmp_path, path)
    with sqlite3.connect(path) as db:
        (revision,) = db.execute("select version_num from alembic_version").fetchone()
        columns = [row[1] for row in db.execute("pragma table_info(steps)")]
        old = db.execute("select id, round((julianday(finished_at) - julianday(started_at)) "
                         "* 86400.0, 3) from steps where finished_at is not null").fetchall()
    assert revision == "0004" and "duration" not in columns
    assert old  # the reality check, at least

    store = EvidenceStore(str(path))
    assert database.current_revision(store.engine) == tables.HEAD_REVISION
    with store.engine.connect() as connection:
        durations = dict(connection.execute(tables.steps.select().with_only_columns(
            tables.steps.c.id, tables.steps.c.duration)).all())
    assert {step: durations[step] for step, _ in old} == dict(old)
    gates = totals.gates(store, (60.0,))
    assert [(g.plan, g.stage) for g in gates] == [("marker", "R")]
    assert gates[0].seconds == sum(seconds for _, seconds in old)
    store.close()


def test_postgres_steps_get_their_durations_old_and_new(postgres_url: str) -> None:
    """On PostgreSQL (its own SQL for seconds): a step finished before revision 0005 gets
    its duration when the store is opened, a step finished after it keeps its own."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, insert

    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(insert(tables.runs).values(
            id="r1", command="check", plan_name="shop", status="passed", started_at=started,
            summary="", meta="{}"))
        old_steps = sa.table("steps", *(sa.column(name) for name in (
            "run_id", "stage", "name", "status", "started_at", "finished_at", "detail",
            "kind")))
        connection.execute(insert(old_steps).values(
            run_id="r1", stage="R", name="reality check", status="passed", started_at=started,
            finished_at=started + timedelta(seconds=42.5), detail="", kind=records.GATE))
    engine.dispose()

    store = EvidenceStore(postgres_url)
    run = store.start_run("check", plan_name="shop")
    gate = store.start_step(run, "R", "reality check", place=records.StepPlace(records.GATE))
    store.finish_step(gate, "passed")
    (new,) = store.load(run).steps
    assert new.finished is not None
    (counted,) = totals.gates(store, (1.0, 60.0))
    assert counted.count == 2 and counted.within == (1, 2)
    assert abs(counted.seconds - 42.5 - (new.finished - new.started).total_seconds()) < 1e-3
    store.close()
