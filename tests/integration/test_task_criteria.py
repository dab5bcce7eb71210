"""Task verification tells what really happened: errors are not interruptions, a plan_run
criterion reads only its own plan's runs, a criterion may wait on another task."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from tests.integration.cli_helpers import phasegate

# Run by the criterion's own command probe: from then on the store refuses observations,
# as a full disk or a revoked grant would, while phasegate is in the middle of verifying.
BREAK_STORE = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("
               "\"CREATE TRIGGER refuse BEFORE INSERT ON observations BEGIN "
               "SELECT RAISE(ABORT, 'database or disk is full'); END\"); db.commit()")


def task_file(tasks: Path, folder: str, task_id: str, criteria: str, extra: str = "") -> Path:
    (tasks / folder).mkdir(parents=True, exist_ok=True)
    path = tasks / folder / f"{task_id}-task.md"
    path.write_text(f"---\nid: {task_id}\ntitle: task {task_id}\npriority: high\n"
                    f"created: 2026-11-20\n{extra}criteria:\n{criteria}---\n")
    return path


def test_an_error_during_verify_is_recorded_as_an_error_not_an_interruption(
        tmp_path: Path) -> None:
    store = tmp_path / "e.db"
    tasks = tmp_path / "tasks"
    command = json.dumps([sys.executable, "-c", BREAK_STORE, str(store)])
    task_file(tasks, "active", "OPS-1", f"  - text: the store takes evidence\n"
                                        f"    verify: {{command: {{run: {command}}}}}\n")
    result = phasegate("tasks", "verify", "OPS-1", "--dir", str(tasks), "--store", str(store))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "database or disk is full" in result.stderr
    with sqlite3.connect(store) as db:
        (status, summary), = db.execute(
            "select status, summary from runs where command = 'tasks verify'").fetchall()
    assert status == "error"
    assert "database or disk is full" in summary


def smoke_plan(path: Path, marker: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "values.yaml").write_text("replicas: 3\n")
    path.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: smoke}\n"
                    f"assumptions:\n  probes:\n    - file: {{path: values.yaml, markers: "
                    f"['{marker}']}}\n")
    return path


def verify_json(tasks: Path, store: Path, task_id: str) -> dict[str, object]:
    result = phasegate("tasks", "verify", task_id, "--dir", str(tasks), "--store", str(store),
                       "--json")
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_plan_run_reads_only_its_own_plan_and_the_command_asked(tmp_path: Path) -> None:
    store, tasks = tmp_path / "e.db", tmp_path / "tasks"
    real = smoke_plan(tmp_path / "plans" / "smoke.yaml", "image:")  # fails: no such marker
    other = smoke_plan(tmp_path / "elsewhere" / "smoke.yaml", "replicas:")  # same name, passes
    assert phasegate("check", str(real), "--store", str(store)).returncode == 1
    assert phasegate("check", str(other), "--store", str(store)).returncode == 0
    task_file(tasks, "active", "OPS-2",
              "  - text: the smoke plan (plans/smoke.yaml) passed its check\n"
              "    verify: {plan_run: {plan: smoke, command: check, file: plans/smoke.yaml}}\n"
              "  - text: a plan named smoke passed its check\n"
              "    verify: {plan_run: {plan: smoke, command: check}}\n"
              "  - text: the smoke plan ran\n"
              "    verify: {plan_run: {plan: smoke, file: elsewhere/smoke.yaml}}\n")
    pinned, by_name, ran = verify_json(tasks, store, "OPS-2")["criteria"]  # type: ignore[misc]
    assert pinned["status"] == "failed" and "(check) failed" in pinned["observed"]
    assert by_name["status"] == "failed"
    assert "2 plan files are named smoke" in by_name["observed"]
    assert ran["status"] == "failed"  # a passed check is not a passed run
    assert ran["observed"] == ("no finished run of plan smoke from elsewhere/smoke.yaml by "
                               "phasegate run in this store")
