"""Apply and delete against the real API server; target pinning and diagnostics via the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phasegate.errors import ActionError
from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import deployment, held_image, with_client, write_yaml

pytestmark = pytest.mark.cluster


def test_apply_records_created_unchanged_updated_with_previous_state(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
              "data": {"level": "${input.level}"}}
    path = write_yaml(tmp_path / "cm.yaml", config)

    def run(level: str) -> apply.Applied:
        loaded = manifests.load([str(path)], Path("/"), {"level": level})

        async def work(client: KubeClient) -> apply.Applied:
            return (await apply.apply_all(client, loaded, namespace))[0]

        return with_client(cluster, namespace, work)

    first, again, changed = run("info"), run("info"), run("debug")
    assert (first.action, again.action, changed.action) == ("created", "unchanged", "updated")
    assert first.previous is None
    assert changed.previous is not None and changed.previous["data"] == {"level": "info"}
    # the snapshot keeps who owned which field, so a rollback can give ownership back
    owners = {e["manager"] for e in changed.previous["metadata"]["managedFields"]}
    assert owners == {"phasegate"}
    assert changed.live["data"] == {"level": "debug"}


def test_apply_orders_crds_namespaces_then_the_rest(tmp_path: Path) -> None:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "x.y.z"}},
    ]
    loaded = manifests.load([str(write_yaml(tmp_path / "all.yaml", *docs))], Path("/"))
    assert [m.kind for m in loaded] == ["CustomResourceDefinition", "Namespace", "ConfigMap"]


def test_quota_refusal_is_an_action_error_with_the_apis_words(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/resourcequotas",
                   {"metadata": {"name": "none"}, "spec": {"hard": {"configmaps": "0"}}})
    path = write_yaml(tmp_path / "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "over"}})
    loaded = manifests.load([str(path)], Path("/"))

    async def work(client: KubeClient) -> list[apply.Applied]:
        return await apply.apply_all(client, loaded, namespace)

    with pytest.raises(ActionError, match=r"403 Forbidden.*exceeded quota"):
        with_client(cluster, namespace, work)


def test_delete_reports_the_finalizer_that_blocks(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    held = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["phasegate.dev/hold"]}}
    loaded = manifests.load([str(write_yaml(tmp_path / "cm.yaml", held))], Path("/"))

    async def work(client: KubeClient) -> str:
        await apply.apply_all(client, loaded, namespace)
        resource = await client.find_kind("ConfigMap", "v1")
        return await apply.delete(client, resource, namespace, "held", timeout=1)

    with pytest.raises(ActionError, match=r"blocked by finalizers: phasegate\.dev/hold"):
        with_client(cluster, namespace, work)
    with connect(cluster) as api:  # release it so the namespace can go
        api.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/held",
                    {"metadata": {"finalizers": None}},
                    content_type="application/merge-patch+json").raise_for_status()


def plan_file(tmp_path: Path, target: str, gate: str = "") -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: pinned}\n"
        f"target: {target}\n"
        "assumptions:\n  apis: [apps/v1/Deployment]\n"
        f"  probes:\n    - k8s.api: {{api: v1/ConfigMap}}\n{gate}"
    )
    return plan


def test_plan_pinned_to_its_context_and_cluster(cluster: SandboxInfo, tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "e.db"), "--kubeconfig", str(cluster.kubeconfig)]
    good = plan_file(tmp_path, f"{{context: {cluster.admin_context}}}")
    passed = phasegate("check", str(good), *store)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    shown = json.loads(phasegate("show", "latest", "--json", "--store",
                                 str(tmp_path / "e.db")).stdout)
    assert shown["run"]["cluster"]["context"] == cluster.admin_context
    assert shown["run"]["cluster"]["server"] == cluster.api_url

    other = phasegate("check", str(good), "--context", cluster.restricted_context, *store)
    assert other.returncode == 2 and "refusing --context" in other.stderr

    wrong_uid = plan_file(tmp_path, f"{{context: {cluster.admin_context}, clusterUID: abc}}")
    refused = phasegate("check", str(wrong_uid), *store)
    assert refused.returncode == 2 and "refusing the wrong cluster" in refused.stderr

    untargeted = plan_file(tmp_path, "{namespace: default}")
    no_context = phasegate("check", str(untargeted), *store)
    assert no_context.returncode == 2 and "never falls back" in no_context.stderr


def test_failed_gate_evidence_carries_diagnostics(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    stuck = deployment("stuck", replicas=1, image=held_image(cluster),
                       annotations={"phasegate.dev/fail": "never-ready"})
    write_yaml(tmp_path / "d.yaml", stuck)

    async def work(client: KubeClient) -> list[apply.Applied]:
        return await apply.apply_all(client, manifests.load(["d.yaml"], tmp_path), namespace)

    with_client(cluster, namespace, work)
    store = ["--store", str(tmp_path / "e.db")]
    result = phasegate("probe", "{k8s.rollout: {name: stuck}}", "--timeout", "3s",
                       "--context", cluster.admin_context, "--kubeconfig", str(cluster.kubeconfig),
                       "--namespace", namespace, *store)
    assert result.returncode == 1, result.stderr
    report = phasegate("evidence", "latest", "-f", "json", *store)
    facts = json.loads(report.stdout)
    (diagnostics,) = [a for a in facts["artifacts"] if a["name"].startswith("diagnostics")]
    text = diagnostics["content"]
    assert "conditions: " in text and "Available=False" in text
    assert "pods matching app=stuck: 1" in text
    assert "readiness probe failed" in text or "ready False" in text
