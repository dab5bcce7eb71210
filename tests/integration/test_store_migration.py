"""Steps carry where they belong as fields (kind, phase, phase index, tracer) and an apply
step its journal and fingerprints; a store of the old layout, which said all of it in step
names and in "applied: …" / "rendered: …" artifacts, gets the fields when it is opened."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from phasegate import secrets
from phasegate.reports import retro
from phasegate.store import database, records, tables
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import changes

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_step_fields_and_journal_round_trip(tmp_path: Path) -> None:
    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("apply", plan_name="shop")
    place = records.StepPlace(records.APPLY, phase="api", phase_index=2)
    step = store.start_step(run, "I", "phase 2: api · apply", place=place)
    secrets.register("hunter2-very-secret")
    entry = {"ref": "ConfigMap shop/api", "action": "updated", "source": "m/api.yaml",
             "previous": {"data": {"password": "hunter2-very-secret"}}}
    store.record_journal(step, [entry])
    store.record_fingerprints(step, {"m/api.yaml": "0123456789abcdef"})
    store.finish_step(step, "passed", "ConfigMap shop/api updated")
    gate = store.start_step(run, "0", "tracer t · gate",
                            place=records.StepPlace(records.GATE, tracer="t"))
    store.finish_step(gate, "passed")
    applied, tracer_gate = store.load(run).steps
    assert applied.place == place and applied.fingerprints == {"m/api.yaml": "0123456789abcdef"}
    (kept,) = applied.journal
    assert kept["ref"] == "ConfigMap shop/api" and "hunter2" not in json.dumps(kept)
    assert (tracer_gate.kind, tracer_gate.tracer, tracer_gate.phase) == ("gate", "t", None)


def _old_store(path: Path) -> None:
    """An empty store at the old layout's revision, as the code before 0002 created it."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location",
                           str(Path(database.__file__).parent / "migrations"))
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat(" ")


def _write_old_run(path: Path) -> dict[str, Any]:
    """One run as the old code wrote it: phase 2 refused and rolled back, then resumed and
    applied again; a tracer fired and cleaned up."""
    journal = {name: [{"ref": f"ConfigMap shop/{name}", "action": "created", "previous": None,
                       "source": f"m/{name}.yaml", "apiVersion": "v1", "kind": "ConfigMap",
                       "name": name, "namespace": "shop", "warnings": []}]
               for name in ("db", "api-first", "api-again")}
    steps = [  # stage, name, status, started at (s)
        ("R", "reality check", "passed", 0), ("0", "tracer probe-it · apply", "passed", 1),
        ("0", "tracer probe-it · gate", "passed", 2),
        ("0", "tracer cleanup pg-tracer-a1b2c3-probe-it", "passed", 3),
        ("P", "plan and approval", "passed", 4), ("I", "phase 1: db · apply", "passed", 5),
        ("I", "phase 1: db · gate", "passed", 6), ("I", "phase 2: api · apply", "failed", 7),
        ("I", "phase 2: api · rollback", "passed", 8), ("resume", "resumed", "passed", 9),
        ("I", "phase 2: api · apply", "passed", 10), ("I", "phase 2: api · gate", "passed", 11),
        ("V", "all gates again", "passed", 12), ("V", "rollback rehearsal", "passed", 13),
    ]
    artifacts = [  # name, content, written at (s): inside the apply step that wrote it
        ("rendered: db", json.dumps({"m/db.yaml": "d" * 16}), 5.1),
        ("applied: db", json.dumps(journal["db"]), 5.2),
        ("rendered: api", json.dumps({"m/api.yaml": "1" * 16}), 7.1),
        ("applied: api", json.dumps(journal["api-first"]), 7.2),
        ("rendered: api", json.dumps({"m/api.yaml": "2" * 16}), 10.1),
        ("applied: api", json.dumps(journal["api-again"]), 10.2),
        ("plan preview", "# Plan", 4.5),
    ]
    with sqlite3.connect(path) as db:
        db.execute("insert into runs values ('20261130-090000-a1b2c3', 'apply', 'shop', "
                   "'/p/plan.yaml', null, 'passed', ?, ?, 'every gate passed', '{}')",
                   (_at(0), _at(14)))
        for stage, name, status, started in steps:
            db.execute("insert into steps (run_id, stage, name, status, started_at, "
                       "finished_at, timeout, detail) values ('20261130-090000-a1b2c3', ?, ?, "
                       "?, ?, ?, null, '')", (stage, name, status, _at(started),
                                              _at(started + 0.9)))
        for name, content, at in artifacts:
            db.execute("insert into artifacts (run_id, observation_id, name, media_type, "
                       "content, created_at) values ('20261130-090000-a1b2c3', null, ?, "
                       "'application/json', ?, ?)", (name, content, _at(at)))
    return journal


def test_an_old_store_gets_its_steps_fields_from_names_and_artifacts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    journal = _write_old_run(path)

    store = EvidenceStore(str(path))
    assert database.current_revision(store.engine) == tables.HEAD_REVISION
    bundle = store.load("latest")
    fields = [(s.name, s.kind, s.phase, s.phase_index, s.tracer) for s in bundle.steps]
    assert fields == [
        ("reality check", "gate", None, None, None),
        ("tracer probe-it · apply", "apply", None, None, "probe-it"),
        ("tracer probe-it · gate", "gate", None, None, "probe-it"),
        ("tracer cleanup pg-tracer-a1b2c3-probe-it", "cleanup", None, None, "probe-it"),
        ("plan and approval", "plan", None, None, None),
        ("phase 1: db · apply", "apply", "db", 1, None),
        ("phase 1: db · gate", "gate", "db", 1, None),
        ("phase 2: api · apply", "apply", "api", 2, None),
        ("phase 2: api · rollback", "rollback", "api", 2, None),
        ("resumed", "resume", None, None, None),
        ("phase 2: api · apply", "apply", "api", 2, None),
        ("phase 2: api · gate", "gate", "api", 2, None),
        ("all gates again", "gate", None, None, None),
        ("rollback rehearsal", "rehearsal", None, None, None),
    ]
    # each journal and fingerprint goes to the apply step that wrote it
    by_name = [(s.name, list(s.journal), s.fingerprints) for s in bundle.steps
               if s.kind == "apply" and s.phase]
    assert by_name == [
        ("phase 1: db · apply", journal["db"], {"m/db.yaml": "d" * 16}),
        ("phase 2: api · apply", journal["api-first"], {"m/api.yaml": "1" * 16}),
        ("phase 2: api · apply", journal["api-again"], {"m/api.yaml": "2" * 16}),
    ]
    assert len(bundle.artifacts) == 7  # the old evidence is kept as it was
    # what resume, rollback and reports read now comes from the fields
    assert changes.recorded(bundle.steps) == {"db": {"m/db.yaml": "d" * 16},
                                              "api": {"m/api.yaml": "2" * 16}}
    facts = retro.collect(bundle, retro.PlanFacts("shop", ("db", "api"), ("probe-it",), "",
                                                  {}))
    assert facts["metrics"]["rollbacks"] == 1
    assert facts["alignment"]["phases"] == [
        {"phase": "db", "planned": 1, "status": "passed"},
        {"phase": "api", "planned": 2, "status": "passed"}]
    assert facts["alignment"]["tracers"] == [{"tracer": "probe-it", "status": "passed"}]
    assert facts["alignment"]["drift"] == []
    store.close()
    assert EvidenceStore(str(path)).load("latest").steps[5].journal == tuple(journal["db"])


def test_an_old_journal_that_is_not_json_is_left_as_evidence(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    _write_old_run(path)
    with sqlite3.connect(path) as db:
        db.execute("update artifacts set content = 'not json' where name = 'applied: db'")
    bundle = EvidenceStore(str(path)).load("latest")
    (db_apply,) = [s for s in bundle.steps if s.phase == "db" and s.kind == "apply"]
    assert db_apply.journal == () and db_apply.fingerprints == {"m/db.yaml": "d" * 16}
