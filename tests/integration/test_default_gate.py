"""A phase that names no gate is gated by ``k8s.ready`` over what it applied; ``gate: []``
means no gate at all."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from phasegate.workflow import ready_gate
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import deployment, held_image
from tests.integration.workflow_helpers import steps

pytestmark = pytest.mark.cluster


def test_phases_without_a_gate_wait_for_readiness_and_gate_none_waits_for_nothing(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    web = deployment("web", replicas=2, image=held_image(cluster))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    (tmp_path / "web.yaml").write_text(json.dumps(web) + "\n---\n" + json.dumps(service))
    missing = held_image(cluster, "shop/api:missing")
    (tmp_path / "ungated.yaml").write_text(json.dumps(deployment("ungated", 1, image=missing)))
    (tmp_path / "broken.yaml").write_text(json.dumps(deployment("broken", 1, image=missing)))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: ready}\n"
        f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
        "phases:\n"
        "  - {name: web, apply: web.yaml, timeout: 1m}\n"
        "  - {name: ungated, apply: ungated.yaml, gate: []}\n"
        "  - {name: broken, apply: broken.yaml, timeout: 2m}\n")
    done = phasegate("apply", str(plan), "--yes", "--json", "--kubeconfig",
                     str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
                     "--reports", str(tmp_path / "r"))
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    gates = [p["gate"] for p in result["preview"]["phases"]]
    assert gates == [[ready_gate.DEFAULT_NAME], [], [ready_gate.DEFAULT_NAME]]
    assert [p["status"] for p in result["phases"]] == ["passed", "passed", "rolled back"]
    # the broken image fails the phase fast, by the pod's reason, long before 2 minutes
    broken = result["phases"][2]["detail"]
    assert "gate failed fast" in broken and "pods of the current revision" in broken
    assert "ErrImagePull" in broken or "ImagePullBackOff" in broken
    recorded = steps(tmp_path, result["run_id"])
    assert ("I", "phase 1: web · gate", "passed") in recorded
    assert not any(name == "phase 2: ungated · gate" and status != "passed"
                   for _, name, status in recorded)
    with sqlite3.connect(tmp_path / "e.db") as db:
        rows = db.execute("select name, observed, data from observations where run_id = ? and "
                          "probe = 'k8s.ready' and passed", (result["run_id"],)).fetchall()
    assert rows[0][0] == "k8s.ready 2 objects (1 Deployment, 1 Service)"
    assert rows[0][1] == "2 of 2 Current"
    decided = {o["object"]: o["rule"] for o in json.loads(rows[0][2])["objects"]}
    assert decided == {f"Deployment {namespace}/web": "Deployment",
                       f"Service {namespace}/web": "Service"}
    with connect(cluster) as api:  # rolled back: the broken phase created it, so it is gone
        assert api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/broken") is None
        assert api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/ungated") is not None
