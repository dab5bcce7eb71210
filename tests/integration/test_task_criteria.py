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
