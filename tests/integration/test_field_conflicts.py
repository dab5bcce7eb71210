"""Server-side apply respects other field managers: a real HorizontalPodAutoscaler (run by the
sandbox's kube-controller-manager) owns a Deployment's ``spec.replicas``; re-running the plan
reports the conflict with the field and its manager instead of fighting the HPA, and
``force: true`` on the phase takes the field and records that it did."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/web:1, resources: {requests: {cpu: 10m}}}]
"""


def _plan(tmp_path: Path, namespace: str, force: bool) -> str:
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    name = f"plan-{'force' if force else 'plain'}.yaml"
    (tmp_path / name).write_text(f"""\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: hpa-owned}}
target: {{context: phasegate-local, namespace: {namespace}}}
phases:
  - name: web
    apply: deployment.yaml
    gate: []
    rollback: none
    force: {str(force).lower()}
""")
    return str(tmp_path / name)


def _common(cluster: SandboxInfo, tmp_path: Path) -> list[str]:
    return ["--kubeconfig", str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
            "--reports", str(tmp_path / "reports"), "--json"]


def _artifact(tmp_path: Path, run_id: str, name: str) -> str:
    with sqlite3.connect(tmp_path / "e.db") as db:
        row = db.execute("select content from artifacts where run_id = ? and name = ?",
                         (run_id, name)).fetchone()
    return str(row[0])


def _replicas_owner(cluster: SandboxInfo, namespace: str) -> tuple[int, list[str]]:
    with connect(cluster) as api:
        found = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") or {}
    owners = [m["manager"] for m in found["metadata"].get("managedFields", [])
              if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})]
    return int(found["spec"]["replicas"]), owners


def _hpa_owns_replicas(cluster: SandboxInfo, namespace: str) -> None:
    with connect(cluster) as api:
        api.create(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers", {
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 3, "maxReplicas": 5}})
    # no metrics server: below minReplicas the HPA controller rescales without metrics
    wait_for("the HPA to rescale web to 3",
             lambda: _replicas_owner(cluster, namespace) == (3, ["kube-controller-manager"]),
             timeout=60)


def test_a_field_an_hpa_owns_is_a_conflict_not_a_fight(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    plain = _plan(tmp_path, namespace, force=False)
    common = _common(cluster, tmp_path)
    first = phasegate("apply", plain, "--yes", *common)
    assert first.returncode == 0, first.stdout + first.stderr
    _hpa_owns_replicas(cluster, namespace)

    planned = phasegate("plan", plain, *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    change = json.loads(planned.stdout)["preview"]["phases"][0]["objects"][0]
    assert change["ref"] == f"Deployment {namespace}/web"
    assert change["action"] == "conflict"
    assert change["fields"] == ["spec.replicas"]
    assert change["conflicts"] == [{"field": "spec.replicas", "manager": "kube-controller-manager",
                                    "subresource": "scale", "api_version": "apps/v1"}]
    markdown = _artifact(tmp_path, json.loads(planned.stdout)["run_id"], "plan preview")
    assert (f"conflict on Deployment {namespace}/web: spec.replicas (owned by "
            "kube-controller-manager (via scale))") in markdown

    applied = phasegate("apply", plain, "--yes", *common)
    assert applied.returncode == 1, applied.stdout + applied.stderr
    detail = json.loads(applied.stdout)["detail"]
    assert "spec.replicas (owned by kube-controller-manager (via scale))" in detail, detail
    assert _replicas_owner(cluster, namespace) == (3, ["kube-controller-manager"])
    run_id = json.loads(applied.stdout)["run_id"]
    with sqlite3.connect(tmp_path / "e.db") as db:
        recorded = db.execute("select content from artifacts where run_id = ? and name = ?",
                              (run_id, "conflicts: web")).fetchone()
        step = db.execute("select status, detail from steps where run_id = ? and name like ?",
                          (run_id, "%web · apply")).fetchone()
    assert json.loads(recorded[0]) == [{
        "object": f"Deployment {namespace}/web", "field": "spec.replicas",
        "manager": "kube-controller-manager", "subresource": "scale",
        "api_version": "apps/v1"}]
    assert step[0] == "failed" and "kube-controller-manager" in step[1]


def test_force_on_the_phase_takes_the_field_and_records_it(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    common = _common(cluster, tmp_path)
    first = phasegate("apply", _plan(tmp_path, namespace, force=False), "--yes", *common)
    assert first.returncode == 0, first.stdout + first.stderr
    _hpa_owns_replicas(cluster, namespace)
    forced = _plan(tmp_path, namespace, force=True)

    planned = phasegate("plan", forced, *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    phase = json.loads(planned.stdout)["preview"]["phases"][0]
    assert phase["force"] is True
    assert phase["objects"][0]["action"] == "change"
    assert [(c["field"], c["manager"]) for c in phase["objects"][0]["conflicts"]] == [
        ("spec.replicas", "kube-controller-manager")]
    markdown = _artifact(tmp_path, json.loads(planned.stdout)["run_id"], "plan preview")
    assert (f"force takes from other managers on Deployment {namespace}/web: spec.replicas "
            "(owned by kube-controller-manager (via scale))") in markdown

    applied = phasegate("apply", forced, "--yes", *common)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    run_id = json.loads(applied.stdout)["run_id"]
    with sqlite3.connect(tmp_path / "e.db") as db:
        journal = db.execute("select content from artifacts where run_id = ? and name = ?",
                             (run_id, "applied: web")).fetchone()
        step = db.execute("select status, detail from steps where run_id = ? and name like ?",
                          (run_id, "%web · apply")).fetchone()
    entry = json.loads(journal[0])[0]
    assert entry["action"] == "updated"
    assert entry["forced"] == [{"field": "spec.replicas", "manager": "kube-controller-manager",
                                "subresource": "scale", "api_version": "apps/v1"}]
    assert step[0] == "passed"
    assert "force: took spec.replicas (owned by kube-controller-manager (via scale))" in step[1]
