"""Kubernetes probes, passing and failing for real against the local control plane."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from tests.integration.k8s_helpers import (
    deployment,
    evaluate,
    held_image,
    with_client,
    write_yaml,
)

pytestmark = pytest.mark.cluster


def apply_files(cluster: SandboxInfo, namespace: str, paths: list[Path]) -> list[apply.Applied]:
    loaded = manifests.load([str(p) for p in paths], Path("/"))

    async def work(client: KubeClient) -> list[apply.Applied]:
        return await apply.apply_all(client, loaded, namespace)

    return with_client(cluster, namespace, work)


def test_api_served_and_not(cluster: SandboxInfo, namespace: str) -> None:
    result = evaluate(cluster, namespace, [
        {"k8s.api": {"api": "apps/v1/Deployment"}},
        {"k8s.api": {"api": "apps/v1beta1/Deployment"}},
        {"k8s.api": {"api": "v1/NoSuchKind"}},
    ])
    served, removed, unknown = result.finals
    assert served.passed and served.observed == "served as deployments (namespaced)"
    assert not removed.passed and "apps/v1beta1 not served; the server serves apps/v1" in (
        removed.observed)
    assert not unknown.passed and "has no kind NoSuchKind" in unknown.observed


def test_can_i_for_admin_restricted_user_and_service_account(
    cluster: SandboxInfo, namespace: str
) -> None:
    admin = evaluate(cluster, namespace, [{"k8s.can_i": {"verb": "create",
                                                         "resource": "deployments",
                                                         "group": "apps"}}])
    assert admin.passed
    restricted = evaluate(cluster, namespace, [
        {"k8s.can_i": {"verb": "create", "resource": "pods", "namespace": namespace}},
        {"k8s.can_i": {"verb": "create", "resource": "pods",
                       "namespace": cluster.restricted_namespace}},
    ], restricted=True)
    outside, inside = restricted.finals
    assert not outside.passed and outside.observed.startswith("denied")
    assert inside.passed
    service_account = evaluate(cluster, namespace, [{"k8s.can_i": {
        "verb": "list", "resource": "secrets", "as": f"system:serviceaccount:{namespace}:default",
        "expect": "denied"}}])
    assert service_account.passed


def test_rollout_waits_by_watch_and_exists(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    web = deployment("web", image=held_image(cluster))
    apply_files(cluster, namespace, [write_yaml(tmp_path / "d.yaml", web)])
    result = evaluate(cluster, namespace, [
        {"k8s.rollout": {"name": "web"}},
        {"k8s.pods": {"selector": {"app": "web"}, "min": 2}},
        {"k8s.exists": {"kind": "Deployment", "name": "web"}},
        {"k8s.absent": {"kind": "ConfigMap", "name": "nothing-here"}},
        {"k8s.condition": {"kind": "Deployment", "name": "web", "condition": "Available"}},
    ], timeout=60)
    assert result.passed, [o.observed for o in result.finals]
    assert dict(result.intervals)["k8s.rollout Deployment web"] == "watch"
    assert result.finals[0].observed == "2 of 2 replicas updated and available"


def test_missing_image_fails_fast_with_the_reason(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    broken = deployment("api", image=held_image(cluster, "shop/api:missing"))
    apply_files(cluster, namespace, [write_yaml(tmp_path / "d.yaml", broken)])
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=120)
    assert time.monotonic() - started < 30  # fails fast, long before the 120 s timeout
    assert result.outcome == "fail_fast"
    assert "ErrImagePull" in result.finals[0].observed or (
        "ImagePullBackOff" in result.finals[0].observed)


def test_crash_loop_pods_fail_fast(cluster: SandboxInfo, namespace: str, tmp_path: Path) -> None:
    crashing = deployment("worker", replicas=1, image=held_image(cluster),
                          annotations={"phasegate.dev/fail": "crashloop"})
    apply_files(cluster, namespace, [write_yaml(tmp_path / "d.yaml", crashing)])
    result = evaluate(cluster, namespace, [{"k8s.pods": {"selector": "app=worker"}}], timeout=90)
    assert result.outcome == "fail_fast"
    assert "CrashLoopBackOff" in result.finals[0].observed


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.phasegate.dev"},
    "spec": {
        "group": "test.phasegate.dev", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {
                          "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def test_crd_and_custom_resource_conditions(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    widget = {"apiVersion": "test.phasegate.dev/v1", "kind": "Widget",
              "metadata": {"name": "w1"}, "spec": {"size": 1}}
    apply_files(cluster, namespace, [write_yaml(tmp_path / "crd.yaml", CRD, widget)])
    probes = [{"k8s.crd": {"name": "widgets.test.phasegate.dev"}},
              {"k8s.condition": {"kind": "Widget", "name": "w1", "condition": "Ready"}}]
    result = evaluate(cluster, namespace, probes)
    crd, no_status = result.finals
    assert crd.passed and "Established=True" in crd.observed
    assert not no_status.passed and no_status.observed.startswith("no status yet")

    # a Ready condition observed for generation 1, while the spec is at generation 2: stale
    with connect(cluster) as api:
        path = f"/apis/test.phasegate.dev/v1/namespaces/{namespace}/widgets/w1"
        api.request("PATCH", path, {"spec": {"size": 2}},
                    content_type="application/merge-patch+json").raise_for_status()
        status = {"status": {"conditions": [{"type": "Ready", "status": "True",
                                             "reason": "Done", "observedGeneration": 1}]}}
        api.request("PATCH", path + "/status", status,
                    content_type="application/merge-patch+json").raise_for_status()
    stale = evaluate(cluster, namespace, probes[1:]).finals[0]
    assert not stale.passed and "stale: observedGeneration 1 < generation 2" in stale.observed


def test_quota_headroom_and_storage_class(cluster: SandboxInfo, namespace: str) -> None:
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/resourcequotas", {
            "metadata": {"name": "small"}, "spec": {"hard": {"pods": "2", "requests.cpu": "1"}}})
    deadline = time.monotonic() + 20
    while True:  # the quota controller fills in status.used shortly after creation
        result = evaluate(cluster, namespace, [
            {"k8s.quota": {"requests": {"pods": 2, "cpu": "500m"}}},
            {"k8s.quota": {"requests": {"pods": 3}}},
        ])
        if "left" in result.finals[0].observed or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    fits, too_many = result.finals
    assert fits.passed, fits.observed
    assert not too_many.passed and "small: pods 2 left (hard 2, used 0), need 3" in (
        too_many.observed)
    missing = evaluate(cluster, namespace, [{"k8s.storage_class": {"name": "fast-ssd"}}])
    assert not missing.passed and missing.finals[0].observed.startswith("not found")


def test_dry_run_accepts_refuses_and_keeps_pod_security_warnings(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    with connect(cluster) as api:
        api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
            "pod-security.kubernetes.io/warn": "restricted"}}},
            content_type="application/merge-patch+json").raise_for_status()
    good = write_yaml(tmp_path / "good.yaml", deployment("web", image=held_image(cluster)))
    bad = deployment("bad", image=held_image(cluster))
    bad["spec"]["replicas"] = "three"
    write_yaml(tmp_path / "bad.yaml", bad)
    result = evaluate(cluster, namespace, [
        {"k8s.dry_run": {"apply": str(good)}},
        {"k8s.dry_run": {"apply": str(good), "no_warnings": True}},
        {"k8s.dry_run": {"apply": "bad.yaml"}},
    ], base_dir=tmp_path)
    accepted, strict, refused = result.finals
    assert accepted.passed and "would violate PodSecurity" in accepted.observed
    # the Warning header's quoted-string is unescaped: the server's words, not its escaping
    assert 'PodSecurity "restricted:latest"' in accepted.observed, accepted.observed
    assert not strict.passed
    assert not refused.passed and "refused" in refused.observed and "replicas" in refused.observed
    nothing = evaluate(cluster, namespace, [{"k8s.absent": {"kind": "Deployment", "name": "web"}}])
    assert nothing.passed  # a dry run changes nothing


def test_events_probe_sees_failed_scheduling(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    unschedulable = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nowhere"},
                     "spec": {"nodeSelector": {"no-such": "node"},
                              "containers": [{"name": "c", "image": "x:1"}]}}
    apply_files(cluster, namespace, [write_yaml(tmp_path / "p.yaml", unschedulable)])
    deadline = time.monotonic() + 30
    while True:
        result = evaluate(cluster, namespace, [
            {"k8s.events": {"absent_reasons": ["FailedScheduling"], "window": "5m"}}])
        if not result.passed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not result.passed
    assert "FailedScheduling on Pod nowhere" in result.finals[0].observed


def test_operator_deployment_available(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    apply_files(cluster, namespace, [write_yaml(tmp_path / "op.yaml",
                                                deployment("operator", replicas=1,
                                                           image=held_image(cluster)))])
    (available,) = evaluate(cluster, namespace, [
        {"k8s.operator": {"deployment": "operator"}}], timeout=30).finals
    (olm,) = evaluate(cluster, namespace, [{"k8s.operator": {"csv": "cnpg"}}]).finals
    assert available.passed and "Available=True" in available.observed
    assert not olm.passed and "OLM is not installed" in olm.observed


def test_operator_deployment_status_must_describe_its_current_generation(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    apply_files(cluster, namespace, [write_yaml(tmp_path / "op.yaml",
                                                deployment("operator", replicas=1, image=image))])
    probe = [{"k8s.operator": {"deployment": "operator"}}]
    (available,) = evaluate(cluster, namespace, probe, timeout=30).finals
    assert available.passed, available.observed
    # A controller that has not caught up yet (stopped here, for certain): the spec moves
    # on to generation 2, the status still says Available=True for generation 1.
    controller = cluster.pids["kube-controller-manager"]
    os.kill(controller, signal.SIGSTOP)
    try:
        with connect(cluster) as api:
            api.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/operator",
                        {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}},
                        content_type="application/merge-patch+json").raise_for_status()
        (stale,) = evaluate(cluster, namespace, probe).finals
    finally:
        os.kill(controller, signal.SIGCONT)
    assert not stale.passed
    assert "status is of generation 1, the spec is at generation 2" in stale.observed
    (caught_up,) = evaluate(cluster, namespace, probe, timeout=30).finals
    assert caught_up.passed, caught_up.observed


CSV_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterserviceversions.operators.coreos.com"},
    "spec": {
        "group": "operators.coreos.com", "scope": "Namespaced",
        "names": {"plural": "clusterserviceversions", "singular": "clusterserviceversion",
                  "kind": "ClusterServiceVersion", "listKind": "ClusterServiceVersionList",
                  "shortNames": ["csv"]},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def _csv(name: str, phase: str, replaces: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"displayName": name}
    if replaces:
        spec["replaces"] = replaces
    return {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
            "metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


def test_operator_csv_is_the_current_one_of_that_operator(
    cluster: SandboxInfo, namespace: str
) -> None:
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    csvs = f"/apis/operators.coreos.com/v1alpha1/namespaces/{namespace}/clusterserviceversions"
    with connect(cluster) as api:
        api.create(crd_path, CSV_CRD)
        try:
            wait_for("the CSV API", lambda: api.get(csvs) is not None, 30)
            # listed by name: another operator sharing the prefix comes first, then the
            # version being replaced, then the upgrade that is still installing
            api.create(csvs, _csv("cnpg-barman-plugin.v0.1.0", "Succeeded"))
            api.create(csvs, _csv("cnpg.v1.20.0", "Succeeded"))
            api.create(csvs, _csv("cnpg.v1.21.0", "Installing", replaces="cnpg.v1.20.0"))
            upgrading, minor, old, plugin = evaluate(cluster, namespace, [
                {"k8s.operator": {"csv": "cnpg"}},
                {"k8s.operator": {"csv": "cnpg.v1.2"}},
                {"k8s.operator": {"csv": "cnpg.v1.20.0"}},
                {"k8s.operator": {"csv": "cnpg-barman-plugin"}},
            ]).finals
        finally:
            api.request("DELETE", f"{crd_path}/clusterserviceversions.operators.coreos.com")
            wait_for("the CSV API to go", lambda: api.get(csvs) is None, 60)
    assert not upgrading.passed
    assert upgrading.observed == minor.observed == "cnpg.v1.21.0: Installing"
    assert old.passed and old.observed == "cnpg.v1.20.0: Succeeded"
    assert plugin.passed and plugin.observed == "cnpg-barman-plugin.v0.1.0: Succeeded"


def test_events_probe_dates_a_recurring_warning_by_its_latest_occurrence(
    cluster: SandboxInfo, namespace: str
) -> None:
    # An events.k8s.io/v1 series: first seen two hours ago, still recurring a second ago.
    now = datetime.now(UTC)
    first, latest = now - timedelta(hours=2), now - timedelta(seconds=1)
    micro = "%Y-%m-%dT%H:%M:%S.%fZ"
    event = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "api-backoff.1"},
        "eventTime": first.strftime(micro), "type": "Warning", "reason": "BackOff",
        "note": "Back-off restarting failed container app", "action": "Restarting",
        "reportingController": "kubelet", "reportingInstance": "kwok-node-0",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "api-0",
                      "namespace": namespace},
        "series": {"count": 42, "lastObservedTime": latest.strftime(micro)},
    }
    with connect(cluster) as api:
        api.request("POST", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
                    event).raise_for_status()
    (recent,) = evaluate(cluster, namespace, [
        {"k8s.events": {"absent_reasons": ["BackOff"], "window": "5m"}}]).finals
    assert not recent.passed
    assert "BackOff on Pod api-0: Back-off restarting failed container app" in recent.observed


def test_can_i_asks_about_cluster_scoped_resources_without_a_namespace(
    cluster: SandboxInfo,
) -> None:
    # The restricted user may do anything inside its namespace (a RoleBinding), nothing
    # outside: asked with that namespace attached, "list nodes" would wrongly be allowed.
    questions = [
        {"k8s.can_i": {"verb": "list", "resource": "nodes"}},
        {"k8s.can_i": {"verb": "delete", "resource": "namespaces", "name": "default"}},
        {"k8s.can_i": {"verb": "create", "resource": "clusterroles",
                       "group": "rbac.authorization.k8s.io"}},
        {"k8s.can_i": {"verb": "create", "resource": "pods"}},  # namespaced: still allowed
    ]
    home = cluster.restricted_namespace
    *cluster_scoped, pods = evaluate(cluster, home, questions, restricted=True).finals
    for seen in cluster_scoped:
        assert seen.observed.startswith("denied"), (seen.name, seen.observed)
    assert pods.observed.startswith("allowed")
    with connect(cluster, "restricted") as api:  # what the answer must agree with
        assert api.request("GET", "/api/v1/nodes").status_code == 403
    admin = evaluate(cluster, home, questions)
    assert all(o.observed.startswith("allowed") for o in admin.finals), admin.finals
