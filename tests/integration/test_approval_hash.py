"""An approval means what was reviewed: the plan hash covers the plan, its inputs, its
manifests and the server-side dry-run result of what will change — not live
resourceVersions. A status-only write between ``plan`` and ``apply --approve`` keeps the
approval; a spec change by someone else refuses it, naming the object and the fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
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
      containers: [{name: web, image: registry.invalid/web:1}]
"""


def _plan(tmp_path: Path, namespace: str) -> str:
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "plan.yaml").write_text(f"""\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: reviewed}}
target: {{context: phasegate-local, namespace: {namespace}}}
phases:
  - name: web
    apply: deployment.yaml
    gate: []
    rollback: none
""")
    return str(tmp_path / "plan.yaml")


def _write(cluster: SandboxInfo, path: str, patch: dict[str, object]) -> str:
    """A merge patch by another client (field manager ``someone-else``); the new
    resourceVersion."""
    with connect(cluster) as api:
        response = api.request("PATCH", path, patch, params={"fieldManager": "someone-else"},
                               content_type="application/merge-patch+json")
    assert response.status_code == 200, response.text
    return str(response.json()["metadata"]["resourceVersion"])


def test_a_status_write_keeps_the_approval_and_a_spec_change_refuses_it_by_name(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    plan = _plan(tmp_path, namespace)
    common = ["--kubeconfig", str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
              "--reports", str(tmp_path / "reports"), "--json"]
    created = phasegate("apply", plan, "--yes", *common)
    assert created.returncode == 0, created.stdout + created.stderr
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"

    planned = phasegate("plan", plan, *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    reviewed = json.loads(planned.stdout)["plan_hash"]
    with connect(cluster) as api:
        before = (api.get(path) or {})["metadata"]["resourceVersion"]
    # what a controller does between plan and apply: write the status subresource only
    after = _write(cluster, path + "/status", {"status": {"conditions": [{
        "type": "Progressing", "status": "True", "reason": "SomeoneReported",
        "message": "a status-only write"}]}})
    assert after != before
    approved = phasegate("apply", plan, "--approve", reviewed, *common)
    assert approved.returncode == 0, approved.stdout + approved.stderr

    planned = phasegate("plan", plan, *common)
    reviewed = json.loads(planned.stdout)["plan_hash"]
    _write(cluster, path, {"spec": {"minReadySeconds": 7, "revisionHistoryLimit": 3}})
    refused = phasegate("apply", plan, "--approve", reviewed, *common)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    detail = json.loads(refused.stdout)["detail"]
    assert f"approved hash {reviewed} but the plan now hashes to" in detail, detail
    assert (f"Deployment {namespace}/web: changed by someone else: spec.minReadySeconds, "
            "spec.revisionHistoryLimit") in detail, detail
