"""The retrospective of a real phased run: a quota refuses phase 3, the phase rolls back,
the quota is raised, the run resumes and passes — then ``phasegate retro`` tells it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster
PLAN = Path(__file__).resolve().parents[2] / "examples" / "quota-rollback" / "plan.yaml"


@pytest.fixture
def plan_namespace(cluster: SandboxInfo) -> Iterator[str]:
    name = f"retro-{uuid.uuid4().hex[:8]}"  # the plan creates it
    yield name
    with connect(cluster) as api:
        api.request("DELETE", f"/api/v1/namespaces/{name}")


def test_retro_of_a_rolled_back_and_resumed_run(
    cluster: SandboxInfo, tmp_path: Path, plan_namespace: str
) -> None:
    store = ["--store", str(tmp_path / "e.db")]
    first = phasegate("apply", str(PLAN), "--yes", "--json", "--input", "max_deployments=2",
                      "--input", f"namespace={plan_namespace}", "--input",
                      f"registry={cluster.registry}", "--kubeconfig",
                      str(cluster.kubeconfig), "--reports", str(tmp_path / "reports"), *store)
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    with connect(cluster) as api:
        api.request("PATCH", f"/api/v1/namespaces/{plan_namespace}/resourcequotas/deployments",
                    {"spec": {"hard": {"count/deployments.apps": "3"}}},
                    content_type="application/merge-patch+json").raise_for_status()
    resumed = phasegate("resume", run_id, "--json", *store)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    result = phasegate("retro", run_id, "--json", "--budget", "I=1ms", *store)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    m = facts["metrics"]
    assert m["rollbacks"] == 1 and m["gates_failed"] == 0
    assert m["time_to_first_green_gate"] is not None
    assert [row["over"] for row in m["stages"] if row["stage"] == "I"] == [True]
    refused = [f for f in facts["failures"] if f["step"] == "phase 3: frontends · apply"]
    assert refused and "exceeded quota" in refused[0]["observed"]
    assert refused[0]["signature"] == "apply/quota-exceeded"
    lost = [t for t in facts["time_lost"] if t["step"] == "phase 3: frontends · apply"]
    assert lost and lost[0]["lost"] > 0
    alignment = facts["alignment"]
    assert [(p["phase"], p["status"]) for p in alignment["phases"]] == [
        ("namespace", "passed"), ("backend", "passed"), ("frontends", "passed")]
    assert alignment["drift"] == []
    assert {s["step"] for s in facts["went_well"]} >= {"phase 1: namespace · gate",
                                                       "phase 2: backend · gate"}
    assert [r["signature"] for r in facts["recommendations"]] == ["quota-exceeded"]
    follow = "\n".join(facts["follow_up"])
    assert "k8s.quota" in follow and "Stage I took" in follow
    assert "Fix phase 3" not in follow  # fixed within the run: nothing left to do

    text = phasegate("retro", run_id, *store).stdout
    assert "## Plan alignment" in text and "| frontends | 3 | passed |" in text
    assert "### Time lost between a failure and its fix" in text
