"""Resume knows what changed: a passed phase whose manifests changed since it was applied
is named with its files, and re-applied only when asked (--reapply-changed)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate
from tests.integration.workflow_helpers import applied_count, args, steps

pytestmark = pytest.mark.cluster
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_resume_names_a_passed_phase_whose_manifest_changed(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    example = tmp_path / "example"
    shutil.copytree(EXAMPLES / "quota-rollback", example)
    plan = str(example / "plan.yaml")
    first = phasegate("apply", plan, "--yes", "--json", "--input", "max_deployments=2",
                      *args(cluster, tmp_path, fresh_namespace))
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    namespace_yaml = example / "manifests" / "namespace.yaml"  # phase 1: raise the quota
    namespace_yaml.write_text(namespace_yaml.read_text().replace(
        '"${input.max_deployments}"', '"3"'))
    store = ["--store", str(tmp_path / "e.db")]

    refused = phasegate("resume", run_id, *store)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "phase 1 (namespace)" in message and "manifests/namespace.yaml" in message, message
    assert "--reapply-changed" in message and "Traceback" not in refused.stderr
    assert applied_count(tmp_path, run_id, "namespace") == 1  # nothing was done
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("select status from runs").fetchone() == ("failed",)

    resumed = phasegate("resume", run_id, "--reapply-changed", "--json", *store)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert applied_count(tmp_path, run_id, "namespace") == 2  # re-applied and re-gated
    assert applied_count(tmp_path, run_id, "backend") == 1  # unchanged: not re-applied
    recorded = steps(tmp_path, run_id)
    assert [s for s in recorded if s[1] == "phase 1: namespace · gate"] == [
        ("I", "phase 1: namespace · gate", "passed")] * 2
    with sqlite3.connect(tmp_path / "e.db") as db:
        resume_detail = db.execute(
            "select detail from steps where name = 'resumed'").fetchone()
    assert resume_detail and "re-applying changed phase 1 (namespace)" in resume_detail[0]
    assert "manifests/namespace.yaml" in resume_detail[0]
