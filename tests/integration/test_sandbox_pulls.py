"""The sandbox pulls images like a kubelet: a pod runs only if its image is in a registry
the sandbox reaches (its own), else ErrImagePull then ImagePullBackOff with the answer."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from phasegate.sandbox import Api, SandboxInfo, connect
from tests.integration.k8s_helpers import deployment, evaluate

pytestmark = pytest.mark.cluster
Json = dict[str, Any]


def pod(name: str, containers: list[Json], init: list[Json] | None = None) -> Json:
    spec: Json = {"containers": containers}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"name": name}, "spec": spec}


def waiting(status: Json) -> Json:
    return (status.get("state") or {}).get("waiting") or {}


def follow(api: Api, path: str, until: str, timeout: float = 20) -> tuple[list[str], Json]:
    """The first container's waiting reasons, in the order seen, until ``until``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = api.get(path) or {}
        statuses = (got.get("status") or {}).get("containerStatuses") or []
        reason = waiting(statuses[0]).get("reason") if statuses else None
        if reason and (not seen or seen[-1] != reason):
            seen.append(reason)
        if reason == until:
            return seen, got
        time.sleep(0.02)
    raise AssertionError(f"{path}: never {until}; saw {seen}")


@pytest.mark.parametrize(
    ("image", "answer"),
    [
        ("shop/api:0.0.0-absent", "tag not found: 0.0.0-absent in shop/api"),
        ("shop/absent:1.0", "repository not found: shop/absent"),
    ],
    ids=["absent-tag", "absent-repository"],
)
def test_an_image_the_registry_lacks_is_err_image_pull_then_back_off(
    cluster: SandboxInfo, namespace: str, image: str, answer: str
) -> None:
    ref = f"{cluster.registry}/{image}"
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        api.create(path, pod("pull", [{"name": "app", "image": ref}]))
        seen, got = follow(api, f"{path}/pull", "ImagePullBackOff")
        events = api.get(f"/api/v1/namespaces/{namespace}/events") or {}
    assert seen == ["ErrImagePull", "ImagePullBackOff"]
    status = got["status"]
    assert status["phase"] == "Pending"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
    why = f'failed to resolve reference "{ref}": {ref}: not found ({answer})'
    assert waiting(status["containerStatuses"][0])["message"] == (
        f'Back-off pulling image "{ref}": ErrImagePull: {why}')
    failed = [e for e in events["items"] if e["reason"] == "Failed"]
    assert [e["message"] for e in failed] == [f'Failed to pull image "{ref}": {why}']
    assert failed[0]["type"] == "Warning" and failed[0]["source"]["component"] == "kubelet"


@pytest.mark.parametrize(
    ("image", "resolved", "host"),
    [
        ("nginx:1.25", "docker.io/library/nginx:1.25", "registry-1.docker.io"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", "registry.k8s.io"),
    ],
)
def test_an_image_on_another_registry_is_unreachable(
    cluster: SandboxInfo, namespace: str, image: str, resolved: str, host: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        api.create(path, pod("other", [{"name": "app", "image": image}]))
        _, got = follow(api, f"{path}/other", "ErrImagePull")
    assert waiting(got["status"]["containerStatuses"][0])["message"] == (
        f'Failed to pull image "{image}": failed to resolve reference "{resolved}": {host} is '
        f"not reachable from the phasegate sandbox (it reaches only its own registry, "
        f"{cluster.registry})")


def test_an_image_the_registry_holds_runs_and_is_ready(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    ref = f"{cluster.registry}/shop/web:1.0"
    with connect(cluster) as api:
        api.create(path, pod("held", [{"name": "web", "image": ref}],
                             init=[{"name": "migrate", "image": f"{cluster.registry}/shop/db:16"}]))
        deadline = time.monotonic() + 20
        got: Json = {}
        while time.monotonic() < deadline:
            got = api.get(f"{path}/held") or {}
            if (got.get("status") or {}).get("phase") == "Running":
                break
            time.sleep(0.05)
    status = got["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert "running" in status["containerStatuses"][0]["state"]
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_an_init_container_that_cannot_pull_holds_the_pod_initializing(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    absent = f"{cluster.registry}/shop/db:0-absent"
    with connect(cluster) as api:
        api.create(path, pod("init", [{"name": "web", "image": f"{cluster.registry}/shop/web:1.0"}],
                             init=[{"name": "migrate", "image": absent}]))
        _, got = follow(api, f"{path}/init", "PodInitializing")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            init = waiting(got["status"]["initContainerStatuses"][0]).get("reason")
            if init == "ImagePullBackOff":
                break
            time.sleep(0.05)
            got = api.get(f"{path}/init") or {}
    status = got["status"]
    assert status["phase"] == "Pending"
    assert waiting(status["initContainerStatuses"][0])["reason"] == "ImagePullBackOff"
    assert "tag not found: 0-absent in shop/db" in waiting(
        status["initContainerStatuses"][0])["message"]
    assert waiting(status["containerStatuses"][0])["reason"] == "PodInitializing"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "False"


def test_rollout_of_an_image_the_registry_lacks_fails_fast_with_its_answer(
    cluster: SandboxInfo, namespace: str
) -> None:
    ref = f"{cluster.registry}/shop/api:9.9.9"  # the repository exists, the tag does not
    with connect(cluster) as api:
        api.create(f"/apis/apps/v1/namespaces/{namespace}/deployments",
                   deployment("api", image=ref))
    started = time.monotonic()
    result = evaluate(cluster, namespace, [{"k8s.rollout": {"name": "api"}}], timeout=120)
    assert time.monotonic() - started < 30
    assert result.outcome == "fail_fast"
    assert "tag not found: 9.9.9 in shop/api" in result.finals[0].observed


def test_a_pod_whose_image_is_pushed_later_runs_after_the_back_off(
    cluster: SandboxInfo, namespace: str
) -> None:
    late = f"{cluster.registry}/shop/late-{namespace}:1.0"
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        api.create(path, pod("late", [{"name": "app", "image": late}]))
        follow(api, f"{path}/late", "ImagePullBackOff")
        # skopeo trusts the sandbox's registry through certs.d, as the docs say.
        copied = subprocess.run(
            ["skopeo", "copy", "--quiet", f"docker://{cluster.registry}/shop/api:1.4.2",
             f"docker://{late}"], capture_output=True, text=True, timeout=60)
        assert copied.returncode == 0, copied.stderr
        deadline = time.monotonic() + 30  # the first retry comes 10 s after the failure
        got: Json = {}
        while time.monotonic() < deadline:
            got = api.get(f"{path}/late") or {}
            if (got.get("status") or {}).get("phase") == "Running":
                break
            time.sleep(0.2)
    status = got["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert got["metadata"]["annotations"]["sandbox.phasegate.dev/images"] == "pulled"
    assert "pull.sandbox.phasegate.dev/app" not in got["metadata"]["annotations"]
