"""The plan preview of a Secret tells a change from no change, though its values never reach
the store: an applied Secret planned again is "unchanged", and one whose value the plan
changes names that value's key (and never the value)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster


def _plan(tmp_path: Path, namespace: str, password: str) -> str:
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, labels: {app: shop}}\n"
        f"stringData: {{user: shop, password: {password}}}\n")
    (tmp_path / "plan.yaml").write_text(f"""\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: secret-preview}}
target: {{context: phasegate-local, namespace: {namespace}}}
phases:
  - name: secret
    apply: secret.yaml
    rollback: none
""")
    return str(tmp_path / "plan.yaml")


def _objects(cluster: SandboxInfo, tmp_path: Path, plan: str) -> list[dict[str, object]]:
    common = ["--kubeconfig", str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
              "--json"]
    planned = phasegate("plan", plan, *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "s3cr3t-one" not in planned.stdout and "s3cr3t-two" not in planned.stdout
    objects: list[dict[str, object]] = json.loads(planned.stdout)["preview"]["phases"][0][
        "objects"]
    return objects


def test_a_secret_planned_again_is_unchanged_and_a_changed_value_is_named(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    plan = _plan(tmp_path, namespace, "s3cr3t-one")
    applied = phasegate("apply", plan, "--yes", "--kubeconfig", str(cluster.kubeconfig),
                        "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r"))
    assert applied.returncode == 0, applied.stdout + applied.stderr

    [again] = _objects(cluster, tmp_path, plan)
    assert (again["action"], again["fields"]) == ("unchanged", [])

    [changed] = _objects(cluster, tmp_path, _plan(tmp_path, namespace, "s3cr3t-two"))
    assert changed["action"] == "change"
    assert changed["fields"] == ["data.password"]
