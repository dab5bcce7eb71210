"""A run recorded by the old store layout (phases and journals only in step names and in
"applied: …" / "rendered: …" artifacts) still reports, resumes, rolls back and is validated
once today's phasegate opens its store. The old run is made by the old code itself: the
source of the last commit of that layout, run as a program against the sandbox."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate
from tests.integration.workflow_helpers import applied_count, args

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
OLD_LAYOUT = "65ccb044e8d3183992e8da412a2314613c306317"  # the last commit of store revision 0001

Program = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def old_phasegate(tmp_path_factory: pytest.TempPathFactory) -> Program:
    """phasegate as it was at ``OLD_LAYOUT``, from that commit's own source."""
    where = tmp_path_factory.mktemp("old-phasegate")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_LAYOUT, "src"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    env = {**os.environ, "PYTHONPATH": str(where / "src"), "COLUMNS": "200"}
    found = subprocess.run([sys.executable, "-c", "import phasegate; print(phasegate.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout
    assert found.startswith(str(where)), found  # the old code, not this checkout's

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "import sys; from phasegate.cli.main import main; "
             "sys.argv[0] = 'phasegate'; main()", *arguments],
            env=env, capture_output=True, text=True, timeout=180)

    return run


def old_example(tmp_path: Path, name: str) -> Path:
    """The example as it was at ``OLD_LAYOUT``: the old code runs the plan of its own time
    (today's examples may use probes it never knew)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_LAYOUT, f"examples/{name}"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    example = tmp_path / "example"
    (tmp_path / "examples" / name).rename(example)
    return example


def test_an_old_layout_run_reports_resumes_rolls_back_and_validates(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, old_phasegate: Program
) -> None:
    example = old_example(tmp_path, "quota-rollback")
    plan = str(example / "plan.yaml")
    common = args(cluster, tmp_path, fresh_namespace)
    first = old_phasegate("apply", plan, "--yes", "--json", "--input", "max_deployments=2",
                          *common)
    assert first.returncode == 1, first.stdout + first.stderr  # phase 3 refused, rolled back
    run_id = json.loads(first.stdout)["run_id"]
    store = ["--store", str(tmp_path / "e.db")]
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone() == ("0001",)
        columns = {row[1] for row in db.execute("pragma table_info(steps)")}
        assert "phase" not in columns and "journal" not in columns

    # reports read the phases from the fields the migration filled in
    retro = phasegate("retro", run_id, "--format", "json", *store)
    assert retro.returncode == 0, retro.stdout + retro.stderr
    facts = json.loads(retro.stdout)
    assert facts["alignment"]["phases"] == [
        {"phase": "namespace", "planned": 1, "status": "passed"},
        {"phase": "backend", "planned": 2, "status": "passed"},
        {"phase": "frontends", "planned": 3, "status": "rolled back"}]
    assert facts["metrics"]["rollbacks"] == 1 and facts["alignment"]["drift"] == []

    # resume skips the phases whose gates passed and rolls phase 3 back again, from the
    # journal the old run kept as an artifact (now the old apply step's journal)
    again = phasegate("resume", run_id, "--json", *store)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "rolled back: deleted Deployment" in json.loads(again.stdout)["detail"]
    assert applied_count(tmp_path, run_id, "namespace") == 1
    assert applied_count(tmp_path, run_id, "backend") == 1
    with connect(cluster) as api:
        base = f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments"
        assert api.get(f"{base}/web") is None and api.get(f"{base}/backend") is not None

    # a changed manifest of a phase the old run passed is named: its fingerprint was kept
    namespace_yaml = example / "manifests" / "namespace.yaml"
    namespace_yaml.write_text(namespace_yaml.read_text().replace(
        '"${input.max_deployments}"', '"3"'))
    refused = phasegate("resume", run_id, *store)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "phase 1 (namespace)" in message and "manifests/namespace.yaml" in message, message
    resumed = phasegate("resume", run_id, "--reapply-changed", "--json", *store)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert applied_count(tmp_path, run_id, "namespace") == 2
    assert applied_count(tmp_path, run_id, "backend") == 1

    # validation rehearses undoing everything, the old run's backend included
    validated = phasegate("validate", plan, "--json",
                          "--input", "max_deployments=3", *common)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    with sqlite3.connect(tmp_path / "e.db") as db:
        (rehearsal,) = db.execute("select detail from steps where kind = 'rehearsal' and "
                                  "run_id != ?", (run_id,)).fetchone()
    assert "dry run accepted" in rehearsal and f"Deployment {fresh_namespace}/backend" in \
        rehearsal, rehearsal
    record = Path(json.loads(validated.stdout)["files"]["deployment_record"]).read_text()
    assert f"Deployment {fresh_namespace}/backend" in record, record
    with connect(cluster) as api:  # a rehearsal changes nothing
        for name in ("backend", "web", "admin"):
            assert api.get(f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments/{name}")
