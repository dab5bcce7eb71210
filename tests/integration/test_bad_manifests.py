"""The same input gets the same exit code from every command: a manifest that is not
Kubernetes YAML is bad input (exit 2, the file named) from check, tracer and run alike,
never a probe crash in the middle of a recorded run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("where", ["phase", "tracer"])
@pytest.mark.parametrize("command", [["check"], ["run", "--yes"],
                                     ["run", "--level", "contract"], ["tracer"]])
def test_a_manifest_that_is_not_kubernetes_yaml_is_exit_2_everywhere(
    cluster: SandboxInfo, tmp_path: Path, namespace: str, command: list[str], where: str
) -> None:
    (tmp_path / "notes.yaml").write_text("shopping: [milk, eggs]\n")
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    phase_file, tracer_file = ("notes.yaml", "ok.yaml") if where == "phase" else (
        "ok.yaml", "notes.yaml")
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: notk8s}\n"
                    f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
                    f"tracers:\n  - name: t\n    apply: {tracer_file}\n"
                    "    gate: [{k8s.exists: {kind: ConfigMap, name: ok}}]\n"
                    f"phases:\n  - name: one\n    apply: {phase_file}\n"
                    "    gate: [{k8s.exists: {kind: ConfigMap, name: ok}}]\n")
    reports = [] if command == ["check"] else ["--reports", str(tmp_path / "r")]
    result = phasegate(*command, str(plan), "--kubeconfig", str(cluster.kubeconfig),
                       "--store", str(tmp_path / "e.db"), *reports)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "notes.yaml" in result.stderr and "apiVersion and kind" in result.stderr
    assert "probe crashed" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    store = tmp_path / "e.db"
    if store.exists():  # nothing half-done was recorded
        with sqlite3.connect(store) as db:
            assert db.execute("select count(*) from runs").fetchone() == (0,)


@pytest.mark.parametrize("text, says", [("shopping: [milk, eggs\n", "YAML syntax error"),
                                        ("shopping: [milk, eggs]\n", "apiVersion and kind")])
def test_an_ad_hoc_probe_of_a_bad_manifest_is_bad_input_not_a_crash(
    tmp_path: Path, text: str, says: str
) -> None:
    (tmp_path / "notes.yaml").write_text(text)
    result = phasegate("probe", "{k8s.schema: {apply: notes.yaml}}", "--store",
                       str(tmp_path / "e.db"), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "notes.yaml" in result.stderr and says in result.stderr
    assert "crashed" not in result.stdout + result.stderr
