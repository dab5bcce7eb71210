"""Least privilege: an identity that may only work in its own namespace runs every probe its
RBAC allows. The cluster is identified by what every identity can see (server + CA), and
kube-system is not asked for unless the plan pins its UID, which such an identity cannot
read: that is a clear refusal."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, components, connect
from tests.integration import kubeconfig_helpers as kc
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import deployment, evaluate, held_image, write_yaml

pytestmark = pytest.mark.cluster

SA = "deployer"


def sa_kubeconfig(cluster: SandboxInfo, namespace: str, path: Path) -> Path:
    """A kubeconfig (context ``sa``) whose only user is a ServiceAccount with ``edit`` in
    ``namespace``, authenticated by a token minted with the TokenRequest API."""
    token = kc.service_account_token(cluster, namespace, name=SA, role=("ClusterRole", "edit"),
                                     cluster_wide=False)
    return kc.token_kubeconfig(cluster, path, "sa", token, namespace)


def probes_plan(tmp_path: Path, target: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: least-privilege}\n"
        f"target: {target}\n"
        "assumptions:\n"
        "  apis: [apps/v1/Deployment]\n"
        "  permissions: [{verb: create, resource: deployments, group: apps}]\n"
        "  probes:\n"
        "    - k8s.exists: {kind: Deployment, name: api}\n"
        "    - k8s.can_i: {verb: create, resource: configmaps}\n"
        "    - k8s.can_i: {verb: list, resource: nodes, expect: denied}\n"
        "    - k8s.rollout: {name: api}\n"
    )
    return plan


def run_record(store: Path) -> dict[str, Any]:
    shown = phasegate("show", "latest", "--json", "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    cluster: dict[str, Any] = json.loads(shown.stdout)["run"]["cluster"]
    return cluster


def test_service_account_with_edit_in_one_namespace(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    config = sa_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    with connect(cluster) as api:
        api.create(f"/apis/apps/v1/namespaces/{namespace}/deployments",
                   deployment("api", replicas=1, image=held_image(cluster)))
    store = tmp_path / "e.db"
    common = ["--kubeconfig", str(config), "--store", str(store), "--timeout", "60s"]

    plan = probes_plan(tmp_path, f"{{context: sa, namespace: {namespace}}}")
    passed = phasegate("check", str(plan), *common)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    identity = run_record(store)
    assert identity["identified_by"] == "server+ca"
    assert identity["server"] == cluster.api_url
    assert identity["ca_fingerprint"].startswith("sha256:")
    assert identity["cluster_uid"] == ""
    report = phasegate("evidence", "latest", "--format", "md", "--store", str(store))
    assert f"identified by server + CA {identity['ca_fingerprint']}" in report.stdout, report

    with connect(cluster) as api:
        uid = api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]  # type: ignore[index]
    pinned = probes_plan(tmp_path, f"{{context: sa, namespace: {namespace}, clusterUID: {uid}}}")
    refused = phasegate("check", str(pinned), *common)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())  # as one paragraph, whatever the wrapping
    assert "get on namespaces/kube-system" in message
    assert "caFingerprint" in message and identity["ca_fingerprint"] in message
    assert "Traceback" not in message

    by_ca = probes_plan(tmp_path, f"{{context: sa, namespace: {namespace}, server: "
                                  f"{cluster.api_url}, caFingerprint: "
                                  f"'{identity['ca_fingerprint']}'}}")
    assert phasegate("check", str(by_ca), *common).returncode == 0
    wrong_ca = probes_plan(tmp_path, f"{{context: sa, namespace: {namespace}, "
                                     f"caFingerprint: 'sha256:{'0' * 64}'}}")
    refused_ca = phasegate("check", str(wrong_ca), *common)
    assert refused_ca.returncode == 2 and "refusing the wrong cluster" in refused_ca.stderr


def kube_system_reads(cluster: SandboxInfo, user: str) -> list[dict[str, Any]]:
    """Every request ``user`` made for namespace kube-system, from the API server's audit log
    (read once a marker request made after the run is in it, so nothing is still unwritten)."""
    marker = f"audit-marker-{user.rsplit(':', 1)[-1]}-{time.monotonic_ns()}"
    with connect(cluster) as api:
        api.get(f"/api/v1/namespaces/{marker}")
    log = components.audit_log(cluster.work_dir)
    deadline = time.monotonic() + 10
    while marker not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("objectRef", {}).get("name") == marker for e in events)
    return [e for e in events if e["user"].get("username") == user
            and e.get("objectRef", {}).get("resource") == "namespaces"
            and e["objectRef"].get("name") == "kube-system"]


def test_an_unpinned_run_never_asks_for_kube_system(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    config = sa_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    store = tmp_path / "e.db"
    plan = tmp_path / "plan.yaml"
    text = ("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: unpinned}\n"
            f"target: {{context: sa, namespace: {namespace}}}\n"
            "assumptions:\n  probes: [{k8s.can_i: {verb: create, resource: configmaps}}]\n")
    plan.write_text(text)
    checked = phasegate("check", str(plan), "--kubeconfig", str(config), "--store", str(store))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert run_record(store)["identified_by"] == "server+ca"
    user = f"system:serviceaccount:{namespace}:{SA}"
    assert kube_system_reads(cluster, user) == []

    with connect(cluster) as api:
        uid = api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]  # type: ignore[index]
    plan.write_text(text.replace(f"namespace: {namespace}}}",
                                 f"namespace: {namespace}, clusterUID: {uid}}}"))
    refused = phasegate("check", str(plan), "--kubeconfig", str(config), "--store", str(store))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    # Pinned, the UID is asked for, and the API server's refusal is what the message says.
    assert [e["responseStatus"]["code"] for e in kube_system_reads(cluster, user)] == [403]


def test_restricted_context_checks_and_runs_in_its_namespace(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    ns = "phasegate-restricted"
    store = tmp_path / "e.db"
    write_yaml(tmp_path / "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "least-privilege"},
                                       "data": {"who": "restricted"}})
    plan = tmp_path / "plan.yaml"
    text = (
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: restricted-run}\n"
        f"target: {{context: {cluster.restricted_context}, namespace: {ns}}}\n"
        "assumptions:\n"
        "  probes:\n"
        "    - k8s.can_i: {verb: create, resource: configmaps}\n"
        "    - k8s.can_i: {verb: get, resource: namespaces, name: kube-system, expect: denied}\n"
        "phases:\n"
        "  - name: config\n"
        "    apply: cm.yaml\n"
        "    gate: [{k8s.exists: {kind: ConfigMap, name: least-privilege}}]\n"
    )
    plan.write_text(text)
    common = ["--kubeconfig", str(cluster.kubeconfig), "--store", str(store)]
    checked = phasegate("check", str(plan), *common)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fingerprint = run_record(store)["ca_fingerprint"]
    assert run_record(store)["identified_by"] == "server+ca"
    unpinned = phasegate("run", str(plan), "--yes", "--level", "staging", *common)
    assert unpinned.returncode == 2 and "caFingerprint" in unpinned.stderr

    plan.write_text(text.replace(
        f"namespace: {ns}}}",
        f"namespace: {ns}, server: '{cluster.api_url}', caFingerprint: '{fingerprint}'}}"))
    ran = phasegate("run", str(plan), "--yes", "--level", "staging",
                    "--reports", str(tmp_path / "reports"), *common)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert run_record(store)["identified_by"] == "server+ca"
    with connect(cluster) as api:
        made = api.get(f"/api/v1/namespaces/{ns}/configmaps/least-privilege")
    assert made is not None and made["data"] == {"who": "restricted"}


def test_an_identity_that_may_read_kube_system_is_identified_by_its_uid_when_pinned(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    store = tmp_path / "e.db"
    plan = probes_plan(tmp_path, f"{{context: {cluster.admin_context}}}")
    head = plan.read_text().split("  probes:")[0]
    plan.write_text(head)
    common = ["--kubeconfig", str(cluster.kubeconfig), "--store", str(store)]
    checked = phasegate("check", str(plan), *common)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    identity = run_record(store)
    assert identity["identified_by"] == "server+ca" and identity["cluster_uid"] == ""
    assert identity["ca_fingerprint"].startswith("sha256:")

    with connect(cluster) as api:
        uid = api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]  # type: ignore[index]
    plan.write_text(head.replace(f"context: {cluster.admin_context}}}",
                                 f"context: {cluster.admin_context}, clusterUID: {uid}}}"))
    pinned = phasegate("check", str(plan), *common)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    identity = run_record(store)
    assert identity["identified_by"] == "kube-system UID" and identity["cluster_uid"] == uid
    assert identity["ca_fingerprint"].startswith("sha256:")


def test_service_account_runs_a_plan_in_its_namespace(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    config = sa_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    write_yaml(tmp_path / "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "settings"}, "data": {"a": "1"}})
    write_yaml(tmp_path / "api.yaml", deployment("api", replicas=1, image=held_image(cluster)))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: sa-run}\n"
        f"target: {{context: sa, namespace: {namespace}}}\n"
        "assumptions:\n"
        "  permissions: [{verb: create, resource: deployments, group: apps}]\n"
        "phases:\n"
        "  - name: config\n"
        "    apply: cm.yaml\n"
        "    gate: [{k8s.exists: {kind: ConfigMap, name: settings}}]\n"
        "  - name: api\n"
        "    apply: api.yaml\n"
        "    gate: [{k8s.rollout: {name: api}}]\n"
        "    timeout: 60s\n"
    )
    store = tmp_path / "e.db"
    ran = phasegate("run", str(plan), "--yes", "--json", "--kubeconfig", str(config),
                    "--store", str(store), "--reports", str(tmp_path / "reports"), timeout=180)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [p["status"] for p in json.loads(ran.stdout)["phases"]] == ["passed", "passed"]
    assert run_record(store)["identified_by"] == "server+ca"
    with connect(cluster) as api:
        made = api.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")
    assert made is not None and made["data"] == {"a": "1"}


def test_divergence_says_not_checked_for_what_a_namespaced_identity_cannot_list(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "m.yaml",
               {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}},
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    result = evaluate(cluster, "phasegate-restricted", [{"k8s.divergence": {"apply": "m.yaml"}}],
                      restricted=True, base_dir=tmp_path)
    final = result.finals[0]
    assert result.passed, final.observed
    assert "[MEDIUM] PersistentVolumeClaim data: storage class 'fast' not checked" in final.detail
    assert "[LOW] Service web" in final.detail and "not checked" in final.detail
