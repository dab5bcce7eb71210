"""Shared by the workflow tests: the CLI arguments of a run in the sandbox, and reading
what a run recorded straight from its SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from phasegate.sandbox import SandboxInfo


def args(cluster: SandboxInfo, tmp_path: Path, namespace: str, *extra: str) -> list[str]:
    registry = getattr(cluster, "registry", None) or "127.0.0.1:1"
    return ["--input", f"namespace={namespace}", "--input", f"registry={registry}",
            "--kubeconfig", str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
            "--reports", str(tmp_path / "reports"), *extra]


def steps(tmp_path: Path, run_id: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "e.db") as db:
        return [tuple(row) for row in db.execute(  # type: ignore[misc]
            "select stage, name, status from steps where run_id = ? order by id", (run_id,))]


def applied_count(tmp_path: Path, run_id: str, phase: str) -> int:
    with sqlite3.connect(tmp_path / "e.db") as db:
        row = db.execute("select count(*) from artifacts where run_id = ? and name = ?",
                         (run_id, f"applied: {phase}")).fetchone()
    return int(row[0])


