"""``k8s.rollout`` and ``k8s.pods`` judge the current revision only, as ``kubectl rollout
status`` does: a fix rolled out over crash-looping pods passes; a broken template rolled out
over healthy pods still fails fast, naming the new pods."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from tests.integration.k8s_helpers import deployment, evaluate, with_client, write_yaml

pytestmark = pytest.mark.cluster
CRASHLOOP = {"phasegate.dev/fail": "crashloop"}


def roll(cluster: SandboxInfo, namespace: str, path: Path, workload: dict[str, Any]) -> None:
    write_yaml(path, workload)
    loaded = manifests.load([str(path)], Path("/"))

    async def work(client: KubeClient) -> list[apply.Applied]:
        return await apply.apply_all(client, loaded, namespace)

    with_client(cluster, namespace, work)


def crash_looping(cluster: SandboxInfo, namespace: str, name: str) -> None:
    """Wait until the workload's pods show CrashLoopBackOff (the state the fix replaces)."""
    result = evaluate(cluster, namespace, [{"k8s.pods": {"selector": {"app": name}, "min": 2}}],
                      timeout=60)
    assert result.outcome == "fail_fast" and "CrashLoopBackOff" in result.finals[0].observed


def current_hash(cluster: SandboxInfo, namespace: str, name: str) -> str:
    """The pod-template-hash of the ReplicaSet with the newest revision."""
    with connect(cluster) as api:
        sets = api.get(f"/apis/apps/v1/namespaces/{namespace}/replicasets")["items"]
    owned = [s for s in sets if s["metadata"]["name"].startswith(f"{name}-")]
    newest = max(owned, key=lambda s: int(
        s["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    return str(newest["metadata"]["labels"]["pod-template-hash"])


def test_a_fix_rolled_out_over_crash_looping_pods_passes(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    roll(cluster, namespace, tmp_path / "broken.yaml",
         deployment("api", replicas=2, image=image, annotations=CRASHLOOP))
    crash_looping(cluster, namespace, "api")
    roll(cluster, namespace, tmp_path / "fixed.yaml", deployment("api", replicas=2, image=image))
    rollout = evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=60)
    assert rollout.passed, [(o.observed, o.detail) for o in rollout.finals]


def test_pods_of_a_workload_ignore_its_old_crash_looping_revision(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    roll(cluster, namespace, tmp_path / "broken.yaml",
         deployment("api", replicas=2, image=image, annotations=CRASHLOOP))
    crash_looping(cluster, namespace, "api")
    roll(cluster, namespace, tmp_path / "fixed.yaml", deployment("api", replicas=2, image=image))
    pods = evaluate(cluster, namespace, [{"k8s.pods": {"workload": "Deployment/api", "min": 2}}],
                    timeout=60)
    assert pods.passed, [(o.observed, o.detail) for o in pods.finals]


def test_a_broken_template_over_healthy_pods_fails_fast_naming_the_new_pods(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    image = f"{cluster.registry}/shop/api:1.4.2"
    roll(cluster, namespace, tmp_path / "fixed.yaml", deployment("api", replicas=2, image=image))
    assert evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=60).passed
    roll(cluster, namespace, tmp_path / "broken.yaml",
         deployment("api", replicas=2, image=image, annotations=CRASHLOOP))
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=90)
    assert time.monotonic() - started < 30, "fails fast, long before the 90 s timeout"
    assert result.outcome == "fail_fast"
    (rollout,) = result.finals
    assert "CrashLoopBackOff" in rollout.observed
    assert f"pod api-{current_hash(cluster, namespace, 'api')}-" in rollout.observed
    pods = evaluate(cluster, namespace, [{"k8s.pods": {"workload": "Deployment/api"}}],
                    timeout=30)
    assert pods.outcome == "fail_fast"
    assert f"pod api-{current_hash(cluster, namespace, 'api')}-" in pods.finals[0].observed


def workload(kind: str, image: str, annotations: dict[str, str]) -> dict[str, Any]:
    labels = {"app": "db"}
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": {
        "metadata": {"labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "db", "image": image}]}}}
    if kind == "StatefulSet":
        # OrderedReady never replaces a pod that is not Ready (kubernetes#67250): only a
        # Parallel StatefulSet rolls a fix out over crash-looping pods by itself
        spec.update(replicas=2, serviceName="db", podManagementPolicy="Parallel")
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "db"}, "spec": spec}


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_a_fix_over_crash_looping_statefulset_or_daemonset_pods_passes(
    cluster: SandboxInfo, namespace: str, tmp_path: Path, kind: str
) -> None:
    image = f"{cluster.registry}/shop/db:16"
    roll(cluster, namespace, tmp_path / "broken.yaml", workload(kind, image, CRASHLOOP))
    crash_looping(cluster, namespace, "db")
    roll(cluster, namespace, tmp_path / "fixed.yaml", workload(kind, image, {}))
    rollout = evaluate(cluster, namespace, [{"k8s.rollout": {"kind": kind, "name": "db"}}],
                       timeout=60)
    assert rollout.passed, [(o.observed, o.detail) for o in rollout.finals]
    pods = evaluate(cluster, namespace, [{"k8s.pods": {"workload": f"{kind}/db", "min": 2}}],
                    timeout=30)
    assert pods.passed, [(o.observed, o.detail) for o in pods.finals]
    # and back: the broken template over healthy pods fails fast on the new pods
    roll(cluster, namespace, tmp_path / "broken.yaml", workload(kind, image, CRASHLOOP))
    broken = evaluate(cluster, namespace, [{"k8s.rollout": {"kind": kind, "name": "db"}}],
                      timeout=90)
    assert broken.outcome == "fail_fast", broken.finals[0].observed
    assert "CrashLoopBackOff" in broken.finals[0].observed
