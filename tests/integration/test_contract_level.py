"""`run --level contract`: offline checks, no cluster, no kubeconfig."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_helpers import phasegate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_contract_level_needs_no_cluster(tmp_path: Path) -> None:
    result = phasegate(
        "run", str(EXAMPLES / "shop" / "plan.yaml"), "--level", "contract", "--json",
        "--input", f"@{EXAMPLES / 'shop' / 'values.yaml'}", "--input", "namespace=shop",
        "--input", "registry=127.0.0.1:1", "--kubeconfig", str(tmp_path / "none"),
        "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_level_finds_invalid_and_removed_manifests(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
        "spec: {replicas: three, selector: {matchLabels: {a: b}}, template: {}}\n---\n"
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web}\n")
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: bad}\n"
        "target: {context: nowhere}\nphases:\n  - name: api\n    apply: bad.yaml\n")
    result = phasegate("run", str(tmp_path / "plan.yaml"), "--level", "contract", "--json",
                       "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r"))
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["stopped_at"] == "R"
    assert "spec.replicas: 'three' is not of type 'integer'" in document["detail"]
    facts = json.loads(phasegate("evidence", "latest", "-f", "json", "--store",
                                 str(tmp_path / "e.db")).stdout)
    output = facts["steps"][0]["checks"][0]["output"]
    assert "extensions/v1beta1/Ingress does not exist in Kubernetes 1.35" in output
