"""The divergence check against the real API server: what the plan needs vs what is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import deployment, evaluate, held_image, write_yaml
from tests.integration.public_material import public_root

pytestmark = pytest.mark.cluster


def test_divergences_with_severity_and_fix(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/resourcequotas",
                   {"metadata": {"name": "small"}, "spec": {"hard": {"pods": "2"}}})
        api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "baseline"}}},
            content_type="application/merge-patch+json").raise_for_status()
    privileged = deployment("agent", replicas=1, image=held_image(cluster))
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "privileged": True}
    old_api: dict[str, Any] = {"apiVersion": "extensions/v1beta1", "kind": "Ingress",
                               "metadata": {"name": "web"}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "fast-ssd", "accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}
    balancer = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "public"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    widget = {"apiVersion": "shop.example.com/v1", "kind": "Cart", "metadata": {"name": "c"}}
    write_yaml(tmp_path / "all.yaml", deployment("web", replicas=3, image=held_image(cluster)),
               privileged, old_api, claim,
               balancer, widget)
    result = evaluate(cluster, namespace, [{"k8s.divergence": {"apply": "all.yaml"}}],
                      base_dir=tmp_path)
    (seen,) = result.finals
    assert not seen.passed
    found = {(d["severity"], d["object"]) for d in seen.data["divergences"]}
    assert ("HIGH", "Ingress web") in found  # extensions/v1beta1 removed
    assert ("HIGH", "PersistentVolumeClaim data") in found  # no such storage class
    assert ("HIGH", f"ResourceQuota {namespace}/small") in found  # 4 pods, quota 2
    assert ("HIGH", "Deployment agent") in found  # privileged under enforce=baseline
    assert ("MEDIUM", "Service public") in found  # no load balancer provider
    assert ("HIGH", "Cart c") in found  # no CRD
    ingress = next(d for d in seen.data["divergences"] if d["object"] == "Ingress web")
    assert ingress["fix"] == "change apiVersion to networking.k8s.io/v1"
    assert "fix:" in seen.detail


def test_a_fitting_plan_has_no_high_divergence(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "ok.yaml", deployment("web", replicas=2, image=held_image(cluster)))
    result = evaluate(cluster, namespace, [{"k8s.divergence": {"apply": "ok.yaml"}}],
                      base_dir=tmp_path)
    assert result.passed, result.finals[0].observed


def test_stock_manifests_in_a_restricted_namespace_are_a_high_divergence(
    cluster: SandboxInfo, namespace: str
) -> None:
    stock = "../shared/public/podinfo-kustomize/bases/backend/deployment.yaml"
    root = public_root()
    assert (root / stock).is_file(), f"public material missing: {root / stock}"
    with connect(cluster) as api:
        api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}},
            content_type="application/merge-patch+json").raise_for_status()
    result = evaluate(cluster, namespace, [{"k8s.divergence": {"apply": stock}}],
                      base_dir=root)
    (seen,) = result.finals
    assert not seen.passed, seen.observed
    (found,) = [d for d in seen.data["divergences"] if d["object"] == "Deployment backend"]
    assert found["severity"] == "HIGH"
    assert 'would violate PodSecurity "restricted:latest"' in found["message"]  # the server's
    assert "allowPrivilegeEscalation" in found["message"]


def test_stock_manifests_where_only_warned_are_a_medium_divergence(
    cluster: SandboxInfo, namespace: str
) -> None:
    stock = "../shared/public/podinfo-kustomize/bases/backend/deployment.yaml"
    with connect(cluster) as api:
        api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
            "pod-security.kubernetes.io/warn": "restricted"}}},
            content_type="application/merge-patch+json").raise_for_status()
    result = evaluate(cluster, namespace, [{"k8s.divergence": {"apply": stock}}],
                      base_dir=public_root())
    (seen,) = result.finals
    assert seen.passed, seen.observed
    (found,) = [d for d in seen.data["divergences"] if d["object"] == "Deployment backend"]
    assert found["severity"] == "MEDIUM" and 'PodSecurity "restricted' in found["message"]


def test_stage_r_stops_stock_manifests_in_a_restricted_namespace(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    stock = public_root() / "../shared/public/podinfo-kustomize/bases/backend/deployment.yaml"
    with connect(cluster) as api:
        api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}},
            content_type="application/merge-patch+json").raise_for_status()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: podinfo}\n"
        f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
        f"phases:\n  - name: backend\n    apply: {json.dumps(str(stock))}\n"
        "    gate: [{k8s.rollout: {name: backend}}]\n")
    store = ["--store", str(tmp_path / "e.db")]
    result = phasegate("check", str(plan), "--json", "--kubeconfig", str(cluster.kubeconfig),
                       *store)
    assert result.returncode == 1, result.stdout + result.stderr
    (divergence,) = [o for o in json.loads(result.stdout)["observations"]
                     if o["name"] == "divergence check"]
    assert not divergence["passed"] and divergence["observed"].startswith("1 HIGH")
    assert 'the server warns: would violate PodSecurity "restricted:latest"' in (
        divergence["observed"])
