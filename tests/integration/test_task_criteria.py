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


def seed_blocked(tmp_path: Path) -> Path:
    """The seed case: four build criteria of TASK-006 wait on the investigation TASK-005."""
    tasks = tmp_path / "tasks"
    (tmp_path / "build.yaml").write_text("stage: ready\n")
    task_file(tasks, "active", "TASK-005", "  - text: the cause is written down\n"
                                           "    verify: attest\n")
    ready = "".join(f"  - text: check {n} holds\n    verify: {{file: {{path: build.yaml, "
                    f"markers: ['stage: ready']}}, name: check {n}}}\n" for n in range(1, 18))
    waiting = "".join(f"  - text: build {n} is fixed\n    blocked_by: TASK-005\n"
                      f"    verify: {{file: {{path: build.yaml, markers: ['fixed-{n}']}}, "
                      f"name: build {n}}}\n" for n in range(1, 5))
    task_file(tasks, "active", "TASK-006", ready + waiting)
    return tasks


def test_a_criterion_blocked_by_another_task_counts_as_blocked_not_failing(
        tmp_path: Path) -> None:
    import jsonschema
    from ruamel.yaml import YAML

    tasks, store = seed_blocked(tmp_path), tmp_path / "e.db"
    result = phasegate("tasks", "verify", "TASK-006", "--dir", str(tasks), "--store",
                       str(store), "--json")
    assert result.returncode == 0, result.stdout + result.stderr  # nothing fails
    document = json.loads(result.stdout)
    assert document["summary"] == "17 of 21 criteria verified (81%), 4 blocked by TASK-005"
    assert document["tally"]["blocked"] == 4 and document["tally"]["failing"] == 0
    blocked = [c for c in document["criteria"] if c["status"] == "blocked"]
    assert [c["n"] for c in blocked] == [18, 19, 20, 21]
    assert all(c["blocked_by"] == ["TASK-005"] for c in blocked)
    assert blocked[0]["observed"] == "marker 'fixed-1' missing"  # what the probe saw is kept

    shown = json.loads(phasegate("tasks", "show", "TASK-006", "--dir", str(tasks), "--store",
                                 str(store), "--json").stdout)
    assert shown["tally"]["blocked"] == 4
    listed = phasegate("tasks", "list", "--dir", str(tasks), "--store", str(store))
    assert "17/21 (81%), 4 blocked by TASK-005" in " ".join(listed.stdout.split())
    session = json.loads(phasegate("report", "session", "--since", "1h", "--dir", str(tasks),
                                   "--store", str(store), "--json").stdout)
    assert session["critical_issues"] == []  # waiting on another task is no failure
    assert session["metrics"]["gates_failed"] == 0

    schema = json.loads(phasegate("schema", "--for", "task").stdout)
    front = (tasks / "active" / "TASK-006-task.md").read_text().split("---\n")[1]
    document = json.loads(json.dumps(YAML(typ="safe").load(front), default=str))  # dates
    jsonschema.Draft202012Validator(schema).validate(document)


def test_a_criterion_blocked_by_an_unknown_task_is_refused_at_its_place(
        tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    path = task_file(tasks, "active", "OPS-3", "  - text: waits\n    blocked_by: [OPS-9]\n"
                                               "    verify: attest\n")
    result = phasegate("tasks", "verify", "OPS-3", "--dir", str(tasks), "--store",
                       str(tmp_path / "e.db"))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"{path}:8:" in message and "criteria[0].blocked_by[0]" in message
    assert "OPS-9" in message


def test_options_given_before_the_subcommand_apply_to_it(tmp_path: Path) -> None:
    tasks = tmp_path / "elsewhere"
    task_file(tasks, "backlog", "OPS-7", "  - text: a criterion\n    verify: {file: "
              "{path: /nonexistent}}\n")
    store = tmp_path / "s.db"
    listed = phasegate("tasks", "-d", str(tasks), "--store", str(store), "--json", "list",
                       cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "OPS-7" in listed.stdout
    json.loads(listed.stdout)
    # An option given after the subcommand still wins over the one before it.
    empty = tmp_path / "empty"
    empty.mkdir()
    overridden = phasegate("tasks", "-d", str(tasks), "list", "-d", str(empty), cwd=tmp_path)
    assert "OPS-7" not in overridden.stdout, overridden.stdout
