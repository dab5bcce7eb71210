"""The local control plane itself: real API server behaviour the Kubernetes gates rely on.

Every test asserts an outcome reported by the real kube-apiserver (admission, RBAC,
quota, apply, CRDs) or by the real controllers and scheduler acting on KWOK's nodes.
Some go through kubectl with the generated kubeconfig, proving that file works too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import phasegate
from phasegate.sandbox import Api, SandboxInfo, connect, down, status, up
from phasegate.sandbox.api import wait_for
from phasegate.sandbox.processes import alive
from phasegate.sandbox.registry import certs_dir, seed_images
from tests.integration.cli_helpers import phasegate as run_cli
from tests.integration.k8s_helpers import held_image

pytestmark = pytest.mark.cluster

KUBECTL = str(Path(sys.executable).parent / "kubectl")
Json = dict[str, Any]


def kubectl(
    info: SandboxInfo, *args: str, context: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(info.kubeconfig),
            "--context",
            context or info.admin_context,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def condition(obj: Json | None, kind: str) -> str | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def pod(name: str, image: str, annotations: dict[str, str] | None = None) -> Json:
    return {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def waiting_reason(obj: Json | None) -> str | None:
    statuses = ((obj or {}).get("status") or {}).get("containerStatuses") or []
    return statuses[0].get("state", {}).get("waiting", {}).get("reason") if statuses else None


def test_nodes_are_ready_and_the_server_reports_its_real_version(cluster: SandboxInfo) -> None:
    with connect(cluster) as api:
        nodes = (api.get("/api/v1/nodes") or {})["items"]
        version = api.get("/version") or {}
    assert len(nodes) == cluster.nodes == 2
    assert all(condition(n, "Ready") == "True" for n in nodes)
    assert version["gitVersion"] == "v1.35.4"
    listed = kubectl(cluster, "get", "nodes", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == ["node/kwok-node-0", "node/kwok-node-1"]


def test_three_replica_deployment_becomes_available(cluster: SandboxInfo, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    labels = {"app": "web"}
    with connect(cluster) as api:
        api.create(
            path,
            {
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": pod("x", held_image(cluster))["spec"],
                    },
                },
            },
        )

        def available() -> bool:
            dep = api.get(f"{path}/web") or {}
            return condition(dep, "Available") == "True" and dep["status"].get("readyReplicas") == 3

        wait_for("3 ready replicas", available, timeout=30)
        pods = (api.get(f"/api/v1/namespaces/{namespace}/pods") or {})["items"]
    assert len(pods) == 3
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-node-0", "kwok-node-1"}


def test_resource_quota_rejects_an_over_quota_pod(cluster: SandboxInfo, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}"
    with connect(cluster) as api:
        api.create(
            f"{base}/resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
        )
        # Admission refuses everything until the quota controller has computed usage.
        wait_for(
            "quota status",
            lambda: bool(
                ((api.get(f"{base}/resourcequotas/q") or {}).get("status") or {}).get("hard")
            ),
            timeout=20,
        )
        first = api.request("POST", f"{base}/pods", pod("one", held_image(cluster)))
        second = api.request("POST", f"{base}/pods", pod("two", held_image(cluster)))
    assert first.status_code == 201, first.text
    assert second.status_code == 403
    assert second.json()["reason"] == "Forbidden"
    assert "exceeded quota" in second.json()["message"]


def test_restricted_user_is_refused_outside_its_namespace(cluster: SandboxInfo) -> None:
    def review(api: Api, ns: str) -> bool:
        resp = api.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "spec": {
                    "resourceAttributes": {"namespace": ns, "verb": "create", "resource": "pods"}
                }
            },
        )
        assert resp.status_code == 201, resp.text
        return bool(resp.json()["status"]["allowed"])

    with connect(cluster, "restricted") as api:
        outside = api.request("GET", "/api/v1/namespaces/default/pods")
        inside = api.request("GET", f"/api/v1/namespaces/{cluster.restricted_namespace}/pods")
        assert outside.status_code == 403
        assert inside.status_code == 200
        assert review(api, "default") is False
        assert review(api, cluster.restricted_namespace) is True
    can_i = kubectl(
        cluster,
        "auth",
        "can-i",
        "list",
        "pods",
        "-n",
        "kube-system",
        context=cluster.restricted_context,
    )
    assert (can_i.returncode, can_i.stdout.strip()) == (1, "no")


def test_server_side_apply_dry_run_changes_nothing(cluster: SandboxInfo, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/settings"
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"k": "v"},
    }
    with connect(cluster) as api:
        resp = api.request(
            "PATCH",
            path,
            body,
            content_type="application/apply-patch+yaml",
            params={"dryRun": "All", "fieldManager": "phasegate-test"},
        )
        assert resp.status_code == 201, resp.text
        managers = [m["manager"] for m in resp.json()["metadata"]["managedFields"]]
        assert managers == ["phasegate-test"]
        assert api.get(path) is None  # dry run: nothing was stored
    manifest = json.dumps({**body, "metadata": {"name": "settings", "namespace": namespace}})
    applied = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "apply",
            "--server-side",
            "--dry-run=server",
            "-f",
            "-",
        ],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    assert "serverside-applied (server dry run)" in applied.stdout


@pytest.mark.parametrize(
    ("image", "annotations"),
    [
        ("example.invalid/app:missing", {}),
        ("{registry}/shop/api:1.4.2", {"phasegate.dev/fail": "image-pull"}),
    ],
    ids=["tag-missing", "annotation"],
)
def test_missing_image_marker_reaches_image_pull_backoff(
    cluster: SandboxInfo, namespace: str, image: str, annotations: dict[str, str]
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        api.create(path, pod("pull", image.format(registry=cluster.registry), annotations))
        wait_for(
            "ImagePullBackOff",
            lambda: waiting_reason(api.get(f"{path}/pull")) == "ImagePullBackOff",
            20,
        )
        got = api.get(f"{path}/pull") or {}
    assert got["status"]["phase"] == "Pending"
    assert condition(got, "Ready") == "False"


def test_crashloop_marker_reaches_crash_loop_back_off(cluster: SandboxInfo, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        crash = pod("crash", held_image(cluster), {"phasegate.dev/fail": "crashloop"})
        api.create(path, crash)
        wait_for(
            "CrashLoopBackOff",
            lambda: waiting_reason(api.get(f"{path}/crash")) == "CrashLoopBackOff",
            20,
        )
        got = api.get(f"{path}/crash") or {}
    status_ = got["status"]["containerStatuses"][0]
    assert status_["restartCount"] >= 1
    assert status_["lastState"]["terminated"]["exitCode"] == 1
    assert condition(got, "Ready") == "False"


def test_never_ready_marker_runs_but_is_never_ready(cluster: SandboxInfo, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        slow = pod("slow", held_image(cluster), {"phasegate.dev/fail": "never-ready"})
        api.create(path, slow)
        api.create(path, pod("fine", held_image(cluster)))
        # Once the normal pod is Ready, KWOK has had its chance at the marked one too.
        wait_for(
            "the unmarked pod Ready",
            lambda: condition(api.get(f"{path}/fine"), "Ready") == "True",
            20,
        )
        wait_for(
            "the marked pod Running",
            lambda: (api.get(f"{path}/slow") or {})["status"].get("phase") == "Running",
            20,
        )
        got = api.get(f"{path}/slow") or {}
    assert condition(got, "Ready") == "False"
    assert got["status"]["containerStatuses"][0]["ready"] is False


def test_deleted_pods_go_away(cluster: SandboxInfo, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    with connect(cluster) as api:
        api.create(path, pod("gone", held_image(cluster)))
        wait_for("pod Ready", lambda: condition(api.get(f"{path}/gone"), "Ready") == "True", 20)
        assert api.request("DELETE", f"{path}/gone").status_code == 200
        wait_for("pod removed", lambda: api.get(f"{path}/gone") is None, 15)


def test_crd_becomes_established_and_serves_objects(cluster: SandboxInfo, namespace: str) -> None:
    plural = f"widgets{uuid.uuid4().hex[:6]}"
    group = "sandbox.phasegate.dev"
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    crd = {
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": plural.capitalize()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    with connect(cluster) as api:
        api.create(crds, crd)
        try:
            wait_for(
                "Established",
                lambda: condition(api.get(f"{crds}/{plural}.{group}"), "Established") == "True",
                30,
            )
            objects = f"/apis/{group}/v1/namespaces/{namespace}/{plural}"
            wait_for(
                "the new resource served",
                lambda: api.request("GET", objects).status_code == 200,
                15,
            )
            made = api.request(
                "POST",
                objects,
                {
                    "apiVersion": f"{group}/v1",
                    "kind": plural.capitalize(),
                    "metadata": {"name": "w"},
                    "size": 3,
                },
            )
            assert made.status_code == 201, made.text
        finally:
            api.request("DELETE", f"{crds}/{plural}.{group}")


def test_a_second_sandbox_runs_beside_the_first_and_down_removes_it(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    second = up(nodes=1, name=f"{cluster.name}-second", workdir=tmp_path)
    try:
        assert second.api_url != cluster.api_url
        assert second.registry and second.registry != cluster.registry
        assert [s.healthy for s in status(second.name)] == [True]
        with connect(second) as api:
            assert len((api.get("/api/v1/nodes") or {})["items"]) == 1
        assert (certs_dir(second.registry) / "ca.crt").is_file()
        assert phasegate.probe({"image": {"ref": f"{second.registry}/shop/web:1.0"}}).passed
    finally:
        assert down(second) is True
    assert not second.state_dir.exists()
    assert not second.work_dir.exists()  # the registry's storage with it
    assert not certs_dir(second.registry).exists()
    assert status(second.name) == []
    assert not any(alive(p) for p in second.procs)
    # The session's own sandbox is untouched.
    assert [s.healthy for s in status(cluster.name)] == [True]
    assert cluster.registry and (certs_dir(cluster.registry) / "ca.crt").is_file()


def test_registry_serves_every_seed_image_trusted_through_certs_d(cluster: SandboxInfo) -> None:
    assert cluster.registry is not None and cluster.registry_ca is not None
    assert cluster.registry.startswith("127.0.0.1:")
    trusted = certs_dir(cluster.registry) / "ca.crt"
    assert trusted.read_bytes() == cluster.registry_ca.read_bytes()
    summary = cluster.summary()
    assert (summary["registry"], summary["registry_ca"]) == (
        cluster.registry, str(cluster.registry_ca))
    assert "docker-registry" in cluster.pids
    images = seed_images()
    assert {"shop/api:1.4.2", "shop/db:16", "shop/backend:1.0", "shop/web:1.0",
            "shop/admin:1.0"} <= set(images)
    for image in images:
        # No `ca`: the probe trusts the registry only through ~/.config/containers/certs.d.
        seen = phasegate.probe({"image": {"ref": f"{cluster.registry}/{image}",
                                          "platforms": ["linux/amd64"]}})
        assert seen.passed, f"{image}: {seen.observed}"
        assert seen.observed.startswith("found sha256:")


def test_registry_says_tag_not_found_for_a_missing_tag(cluster: SandboxInfo) -> None:
    seen = phasegate.probe({"image": {"ref": f"{cluster.registry}/shop/api:0.0.0-missing"}})
    assert not seen.passed
    assert seen.observed == "tag not found: 0.0.0-missing in shop/api"


def test_up_without_registry_tools_exits_2_naming_what_to_install(tmp_path: Path) -> None:
    # An empty PATH hides docker-registry and skopeo; the check runs before anything starts.
    name = f"no-tools-{uuid.uuid4().hex[:6]}"
    result = run_cli("sandbox", "up", "--name", name, env={"PATH": str(tmp_path)})
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "docker-registry and skopeo" in message
    assert "apt-get install docker-registry skopeo" in message
    assert "--no-registry" in message
    assert "Traceback" not in result.stderr
    assert status(name) == []


def test_no_registry_starts_the_control_plane_alone(cluster: SandboxInfo) -> None:
    name = f"{cluster.name}-bare"
    started = run_cli("sandbox", "up", "--name", name, "--nodes", "1", "--no-registry", "--json")
    try:
        assert started.returncode == 0, started.stderr
        summary = json.loads(started.stdout)
        assert (summary["registry"], summary["registry_ca"]) == (None, None)
        assert "docker-registry" not in summary["pids"]
        assert [s.healthy for s in status(name)] == [True]
        # Without a registry no image can be pulled: every pod is refused its image.
        with connect(status(name)[0].info) as api:
            api.create("/api/v1/namespaces/default/pods",
                       pod("bare", "127.0.0.1:5000/shop/api:1.4.2"))
            wait_for("ErrImagePull", lambda: waiting_reason(
                api.get("/api/v1/namespaces/default/pods/bare")) in (
                    "ErrImagePull", "ImagePullBackOff"), 20)
            got = api.get("/api/v1/namespaces/default/pods/bare") or {}
        message = got["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        assert "it was started without a registry (--no-registry)" in message
    finally:
        stopped = run_cli("sandbox", "down", "--name", name)
    assert stopped.returncode == 0, stopped.stderr
    assert status(name) == []
