"""``k8s.ready`` against the sandbox: the kstatus rules on real objects, by watch."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.engine import gate, progress
from phasegate.kube import connections
from phasegate.plan import probe_call
from phasegate.sandbox import SandboxInfo, connect
from tests.integration.k8s_helpers import (
    context_for,
    deployment,
    evaluate,
    held_image,
    write_yaml,
)
from tests.integration.test_k8s_probes import apply_files

pytestmark = pytest.mark.cluster

MERGE = "application/merge-patch+json"


def ready(kind: str, name: str, **more: Any) -> dict[str, Any]:
    return {"k8s.ready": {"kind": kind, "name": name, **more}}


def later(seconds: float, work: Any) -> threading.Timer:
    """Change the cluster while a gate waits on it (as a controller would)."""
    timer = threading.Timer(seconds, work)
    timer.start()
    return timer


def test_a_list_of_objects_waits_by_one_watch_per_kind_and_namespace(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    maps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
             "data": {"i": str(i)}} for i in range(12)]
    webs = [deployment(f"web{i}", replicas=1, image=held_image(cluster)) for i in range(3)]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web0"}, "ports": [{"port": 80}]}}
    apply_files(cluster, namespace, [write_yaml(tmp_path / "some.yaml", *maps, service)])
    refs = [{"kind": d["kind"], "name": d["metadata"]["name"]} for d in [*maps, *webs, service]]
    seen: list[progress.ProbeWait] = []
    call = probe_call.build({"k8s.ready": {"objects": refs}})
    assert call.name == "k8s.ready 16 objects (12 ConfigMap, 3 Deployment, 1 Service)"

    async def run() -> gate.GateResult:
        try:
            return await gate.evaluate([call], context_for(cluster, namespace), 60,
                                       on_wait=seen.append, label="test")
        finally:
            await connections.close_all()

    # the Deployments come a moment after the gate started: it waits for them to exist too
    timer = later(0.5, lambda: apply_files(cluster, namespace, [
        write_yaml(tmp_path / "webs.yaml", *webs)]))
    result = asyncio.run(run())
    timer.join()
    assert result.passed, result.finals[0].observed
    final = result.finals[0]
    assert final.observed == "16 of 16 Current"
    assert dict(result.intervals)[call.name] == "watch"
    # one list (and watch) per kind in the namespace, not one per object
    assert len(final.data["watch"]) == 3
    rules = {o["object"]: o["rule"] for o in final.data["objects"]}
    assert rules[f"Deployment {namespace}/web0"] == "Deployment"
    assert rules[f"ConfigMap {namespace}/c0"] == "ConfigMap"
    assert rules[f"Service {namespace}/web"] == "Service"
    assert f"Deployment {namespace}/web1: Current — Deployment is available. Replicas: 1 " \
        "[rule: Deployment; Available]" in final.detail
    # progress said who it waits for, then that it passed
    assert seen and seen[0].state == "waiting"
    assert seen[0].observed.startswith(f"13 of 16 Current; waiting for Deployment "
                                       f"{namespace}/web0: NotFound")
    assert seen[-1].state == "passed"


def test_a_deployment_whose_image_is_not_held_fails_fast_with_the_pod_reason(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    broken = deployment("api", replicas=1, image=held_image(cluster, "shop/api:missing"))
    apply_files(cluster, namespace, [write_yaml(tmp_path / "d.yaml", broken)])
    started = time.monotonic()
    result = evaluate(cluster, namespace, [ready("Deployment", "api")], timeout=120)
    assert time.monotonic() - started < 30  # long before its 10 min progress deadline
    final = result.finals[0]
    assert result.outcome == "fail_fast", final.observed
    assert final.observed.startswith(f"Failed: Deployment {namespace}/api: Failed — pod api-")
    assert "ErrImagePull" in final.observed or "ImagePullBackOff" in final.observed
    assert "[rule: Deployment: pods of the current revision]" in final.observed


def test_a_job_completes_and_a_job_that_fails_fails_fast(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    def job(name: str, **spec: Any) -> dict[str, Any]:
        pod = {"restartPolicy": "Never",
               "containers": [{"name": "run", "image": held_image(cluster)}], **spec}
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                "spec": {"backoffLimit": 0, "template": {"spec": pod}}}

    # a pod no node can take, and a deadline: the Job controller fails the Job itself
    stuck = job("stuck", nodeSelector={"no-such-label": "x"})
    stuck["spec"]["activeDeadlineSeconds"] = 2
    apply_files(cluster, namespace, [write_yaml(tmp_path / "j.yaml", job("migrate"), stuck)])
    done = evaluate(cluster, namespace, [ready("Job", "migrate")], timeout=60).finals[0]
    assert done.passed and done.observed.startswith("Current: Job Completed. succeeded: 1/1")
    started = time.monotonic()
    result = evaluate(cluster, namespace, [ready("Job", "stuck")], timeout=90)
    assert time.monotonic() - started < 30
    assert result.outcome == "fail_fast", result.finals[0].observed
    assert "Job Failed. failed: " in result.finals[0].observed
    assert "DeadlineExceeded" in result.finals[0].observed
    assert result.finals[0].data["objects"][0]["rule"] == "Job"


GADGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.ready.phasegate.dev"},
    "spec": {
        "group": "ready.phasegate.dev", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {
                          "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def test_custom_resources_by_their_ready_and_stalled_conditions(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    gadgets = [{"apiVersion": "ready.phasegate.dev/v1", "kind": "Gadget",
                "metadata": {"name": name}, "spec": {"size": 1}} for name in ("g1", "g2")]
    try:
        apply_files(cluster, namespace, [write_yaml(tmp_path / "crd.yaml", GADGETS, *gadgets)])
        crd = evaluate(cluster, namespace, [ready("CustomResourceDefinition",
                                                  "gadgets.ready.phasegate.dev")], timeout=30)
        assert crd.passed and "CRD is established" in crd.finals[0].observed
        path = f"/apis/ready.phasegate.dev/v1/namespaces/{namespace}/gadgets"

        def set_status(name: str, *conditions: dict[str, Any]) -> None:
            with connect(cluster) as api:
                api.request("PATCH", f"{path}/{name}/status", {"status": {
                    "observedGeneration": 1, "conditions": list(conditions)}},
                    content_type=MERGE).raise_for_status()

        set_status("g1", {"type": "Ready", "status": "False", "reason": "Provisioning",
                          "message": "creating the gadget"})
        waiting = evaluate(cluster, namespace, [ready("Gadget", "g1")]).finals[0]
        assert not waiting.passed and waiting.observed == (
            f"Gadget {namespace}/g1: InProgress — creating the gadget [rule: Ready condition]")
        timer = later(1.0, lambda: set_status("g1", {"type": "Ready", "status": "True",
                                                     "reason": "Provisioned"}))
        result = evaluate(cluster, namespace, [ready("Gadget", "g1")], timeout=30)
        timer.join()
        assert result.passed and result.finals[0].attempt > 1, result.finals[0].observed
        assert dict(result.intervals)["k8s.ready Gadget g1"] == "watch"

        set_status("g2", {"type": "Ready", "status": "False", "reason": "Failing"},
                   {"type": "Stalled", "status": "True", "reason": "QuotaExhausted",
                    "message": "no gadgets left in this region"})
        stalled = evaluate(cluster, namespace, [ready("Gadget", "g2")], timeout=60)
        assert stalled.outcome == "fail_fast"
        assert stalled.finals[0].observed == (
            f"Failed: Gadget {namespace}/g2: Failed — no gadgets left in this region "
            "[rule: generic: Stalled]")
        assert stalled.finals[0].data["objects"][0]["reason"] == "QuotaExhausted"
    finally:
        with connect(cluster) as api:
            api.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                        "gadgets.ready.phasegate.dev")


def test_a_pvc_is_ready_once_bound(cluster: SandboxInfo, namespace: str, tmp_path: Path) -> None:
    volume = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": f"pv-{namespace}"},
              "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"],
                       "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/tmp/pv"},
                       "claimRef": {"namespace": namespace, "name": "data"}}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"],
                      "volumeName": f"pv-{namespace}",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    unbound = {**claim, "metadata": {"name": "unbound"},
               "spec": {**claim["spec"], "volumeName": "no-such-volume"}}
    apply_files(cluster, namespace, [write_yaml(tmp_path / "unbound.yaml", unbound)])
    pending = evaluate(cluster, namespace, [ready("PersistentVolumeClaim", "unbound")]).finals[0]
    assert not pending.passed and "PVC is not Bound. phase: Pending" in pending.observed
    try:
        with connect(cluster) as api:  # the volume an administrator (or a provisioner) made
            api.request("POST", "/api/v1/persistentvolumes", volume).raise_for_status()
        # the claim comes while the gate waits: the PV controller binds it to that volume
        timer = later(0.5, lambda: apply_files(cluster, namespace, [
            write_yaml(tmp_path / "pvc.yaml", claim)]))
        result = evaluate(cluster, namespace, [ready("PersistentVolumeClaim", "data")],
                          timeout=60)
        timer.join()
        assert result.passed, result.finals[0].observed
        assert result.finals[0].observed == "Current: PVC is Bound [rule: PersistentVolumeClaim]"
    finally:
        with connect(cluster) as api:
            api.request("DELETE", f"/api/v1/persistentvolumes/pv-{namespace}")


def test_services_and_a_load_balancer_waiting_for_its_ingress(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    def service(name: str, kind: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]}}

    apply_files(cluster, namespace, [write_yaml(tmp_path / "s.yaml", service("api", "ClusterIP"),
                                                service("edge", "LoadBalancer"))])
    plain = evaluate(cluster, namespace, [ready("Service", "api")]).finals[0]
    assert plain.passed and "type ClusterIP" in plain.observed
    edge = evaluate(cluster, namespace, [ready("Service", "edge")]).finals[0]
    assert not edge.passed and "the load balancer reports no ingress yet" in edge.observed

    def balance() -> None:  # what a cloud's service controller writes
        with connect(cluster) as api:
            api.request("PATCH", f"/api/v1/namespaces/{namespace}/services/edge/status",
                        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
                        content_type=MERGE).raise_for_status()

    timer = later(0.5, balance)
    result = evaluate(cluster, namespace, [ready("Service", "edge")], timeout=30)
    timer.join()
    assert result.passed and "192.0.2.10" in result.finals[0].observed


def test_objects_that_do_not_exist_are_not_found(cluster: SandboxInfo, namespace: str) -> None:
    final = evaluate(cluster, namespace, [{"k8s.ready": {"objects": [
        {"kind": "ConfigMap", "name": "nowhere"}, {"kind": "Deployment", "name": "nobody"}]}}],
        timeout=0).finals[0]
    assert not final.passed and not final.fail_fast
    assert final.observed.startswith(f"0 of 2 Current; waiting for ConfigMap {namespace}/nowhere:"
                                     " NotFound")
