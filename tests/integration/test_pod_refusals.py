"""Pods the API server refuses to create (quota, Pod Security, LimitRange, a missing
ServiceAccount): the rollout fails fast with the refusal as its headline, long before the
gate's timeout, and the failure signature recognises it with a recommendation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from phasegate.reports import signatures
from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import Api
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import evaluate

pytestmark = pytest.mark.cluster
TIMEOUT = 120  # the gate's timeout; a refusal must be seen long before it


def workload(kind: str, name: str, image: str, pod: dict[str, Any] | None = None,
             replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": "app", "image": image}], **(pod or {})}}}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def quota(api: Api, namespace: str) -> dict[str, Any]:
    api.create(f"/api/v1/namespaces/{namespace}/resourcequotas",
               {"metadata": {"name": "one-pod"}, "spec": {"hard": {"pods": "1"}}})
    return {}


def restricted(api: Api, namespace: str) -> dict[str, Any]:
    api.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}},
        content_type="application/merge-patch+json").raise_for_status()
    return {}


def limit_range(api: Api, namespace: str) -> dict[str, Any]:
    api.create(f"/api/v1/namespaces/{namespace}/limitranges", {
        "metadata": {"name": "small"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m"}}]}})
    return {"containers": [{"name": "app", "image": "", "resources": {
        "requests": {"cpu": "1"}, "limits": {"cpu": "1"}}}]}


def missing_service_account(api: Api, namespace: str) -> dict[str, Any]:
    return {"serviceAccountName": "not-there"}


REFUSALS: dict[str, tuple[Callable[[Api, str], dict[str, Any]], str, str]] = {
    # refusal: (set the namespace up, text of the headline, signature key)
    "quota": (quota, "exceeded quota", "quota-exceeded"),
    "pod-security": (restricted, 'violates PodSecurity "restricted', "pod-security"),
    "limit-range": (limit_range, "maximum cpu usage per Container is 500m", "limit-range"),
    "service-account": (missing_service_account, 'serviceaccount "not-there" not found',
                        "service-account-missing"),
}


def create(api: Api, namespace: str, obj: dict[str, Any]) -> None:
    plural = obj["kind"].lower() + "s"
    api.create(f"/apis/apps/v1/namespaces/{namespace}/{plural}", obj)


def pod_spec(extra: dict[str, Any], image: str) -> dict[str, Any]:
    for container in extra.get("containers", []):
        container["image"] = image
    return extra


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refused_deployment_fails_fast_with_the_refusal_as_headline(
    cluster: SandboxInfo, namespace: str, refusal: str
) -> None:
    setup, headline, key = REFUSALS[refusal]
    image = f"{cluster.registry}/shop/api:1.4.2"
    with connect(cluster) as api:
        extra = pod_spec(setup(api, namespace), image)
        create(api, namespace, workload("Deployment", "api", image, extra))
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=TIMEOUT)
    seconds = time.monotonic() - started
    (rollout,) = result.finals
    print(f"{refusal}: verdict after {seconds:.1f} s of a {TIMEOUT} s gate: {rollout.observed}")
    assert result.outcome == "fail_fast", rollout.observed
    assert seconds < 30
    assert rollout.observed.startswith("pod creation refused"), rollout.observed
    assert headline in rollout.observed
    signature = signatures.classify(rollout.probe, rollout.observed)
    assert signature.known is not None and signature.known.key == key, signature
    assert signature.recommendation


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_a_refused_statefulset_or_daemonset_fails_fast_by_its_events(
    cluster: SandboxInfo, namespace: str, kind: str
) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    with connect(cluster) as api:
        extra = missing_service_account(api, namespace)
        create(api, namespace, workload(kind, "db", image, extra))
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.rollout": {"kind": kind, "name": "db"}}],
                      timeout=TIMEOUT)
    seconds = time.monotonic() - started
    (rollout,) = result.finals
    print(f"{kind}: verdict after {seconds:.1f} s of a {TIMEOUT} s gate: {rollout.observed}")
    assert result.outcome == "fail_fast" and seconds < 30, rollout.observed
    assert rollout.observed.startswith("pod creation refused")
    assert 'serviceaccount "not-there" not found' in rollout.observed


def test_a_refused_job_fails_fast_in_k8s_pods(cluster: SandboxInfo, namespace: str) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    with connect(cluster) as api:
        api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", {
            "metadata": {"name": "migrate"}, "spec": {"template": {"spec": {
                "restartPolicy": "Never", "serviceAccountName": "not-there",
                "containers": [{"name": "m", "image": image}]}}}})
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.pods": {"workload": "Job/migrate"}}],
                      timeout=TIMEOUT)
    (pods,) = result.finals
    assert result.outcome == "fail_fast" and time.monotonic() - started < 30, pods.observed
    assert pods.observed.startswith("pod creation refused")
    assert 'serviceaccount "not-there" not found' in pods.observed


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_the_retrospective_and_patterns_recognise_the_refusal(
    cluster: SandboxInfo, namespace: str, tmp_path: Path, refusal: str
) -> None:
    setup, headline, key = REFUSALS[refusal]
    image = f"{cluster.registry}/shop/api:1.4.2"
    with connect(cluster) as api:
        extra = pod_spec(setup(api, namespace), image)
    (tmp_path / "api.yaml").write_text(json.dumps(workload("Deployment", "api", image, extra)))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"apiVersion: phasegate/v1\nkind: Plan\nmetadata: {{name: {refusal}}}\n"
        f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
        "phases:\n  - name: api\n    apply: api.yaml\n"
        f"    gate: [{{k8s.rollout: {{name: api}}}}]\n    timeout: {TIMEOUT}s\n"
        "    rollback: auto\n")
    store = ["--store", str(tmp_path / "e.db")]
    runs = []
    for _ in range(2):  # the same refusal in two runs: a pattern
        started = time.monotonic()
        run = phasegate("apply", str(plan), "--yes", "--json", "--kubeconfig",
                        str(cluster.kubeconfig), "--reports", str(tmp_path / "r"), *store)
        assert run.returncode == 1, run.stdout + run.stderr
        assert time.monotonic() - started < 60, "the gate failed fast, not at its timeout"
        runs.append(json.loads(run.stdout)["run_id"])

    retro = phasegate("retro", runs[-1], "--json", *store)
    assert retro.returncode == 0, retro.stderr
    facts = json.loads(retro.stdout)
    gate = [f for f in facts["failures"] if f["probe"] == "k8s.rollout"]
    assert gate and gate[0]["signature"] == f"k8s.rollout/{key}", facts["failures"]
    assert headline in gate[0]["observed"]
    assert [r["signature"] for r in facts["recommendations"]] == [key]
    if refusal == "quota":  # the assumption that would have caught it in stage R
        assert "k8s.quota" in facts["recommendations"][0]["text"]
    assert "no failure signature recognised" not in phasegate("retro", runs[-1], *store).stdout

    mined = phasegate("patterns", "--out", str(tmp_path / "patterns"), "--json", *store)
    assert mined.returncode == 0, mined.stderr
    (pattern,) = [p for p in json.loads(mined.stdout)["patterns"]
                  if p["signature"] == f"k8s.rollout/{key}"]
    assert pattern["runs"] == 2 and pattern["recommendation"], pattern
