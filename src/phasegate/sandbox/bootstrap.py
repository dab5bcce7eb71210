"""What the sandbox creates once the API server answers: fake nodes, the restricted
user's namespace and RBAC, and the probe Deployment that proves pods can run."""

from __future__ import annotations

from collections.abc import Callable

from phasegate.sandbox.api import Api, Json, wait_for
from phasegate.sandbox.kubeconfig import RESTRICTED_NAMESPACE, RESTRICTED_USER
from phasegate.sandbox.node_config import LABEL, LABEL_VALUE

PROBE = "phasegate-sandbox-probe"
# Without a registry every image is unreachable; the probe pod is then refused this one.
UNREACHABLE_IMAGE = "registry.k8s.io/pause:3.10"


def node_names(count: int) -> list[str]:
    return [f"kwok-node-{i}" for i in range(count)]


def create_nodes(api: Api, count: int) -> None:
    """Register ``count`` nodes for KWOK to play kubelet for (it selects the annotation)."""
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    for name in node_names(count):
        api.create(
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
                # Nodes may carry status on create; the scheduler needs capacity.
                "status": {"capacity": capacity, "allocatable": capacity},
            },
        )


def create_restricted_access(api: Api) -> None:
    """A namespace in which RESTRICTED_USER may do anything, and nothing outside it."""
    ns = RESTRICTED_NAMESPACE
    api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"
    api.create(
        f"{rbac}/roles",
        {
            "metadata": {"name": "phasegate-restricted-all"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
    )
    api.create(
        f"{rbac}/rolebindings",
        {
            "metadata": {"name": "phasegate-restricted-all"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "phasegate-restricted-all",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESTRICTED_USER}
            ],
        },
    )


def nodes_ready(api: Api, count: int) -> bool:
    nodes = api.get("/api/v1/nodes")
    ready = [n for n in (nodes or {}).get("items", []) if _condition(n, "Ready") == "True"]
    return len(ready) >= count


def prove_deployment(
    api: Api, timeout: float, alive: Callable[[], bool], image: str | None
) -> None:
    """Create a one-replica Deployment of ``image``, wait for it to be Available, then
    remove it.

    That single outcome needs every component: the API server and etcd, the
    controller-manager (service accounts, ReplicaSets, node taints), the scheduler, the
    image puller and KWOK (node and pod status). With no ``image`` (no registry) the
    proof is the pod's image pull being refused (ErrImagePull), which needs them all too.
    ``alive`` is polled too, to fail fast on a crash.
    """
    path = "/apis/apps/v1/namespaces/default/deployments"
    labels = {"app": PROBE}
    container = {"name": "probe", "image": image or UNREACHABLE_IMAGE}
    api.create(
        path,
        {
            "metadata": {"name": PROBE},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
    )
    if image:
        wait_for(
            "the probe Deployment becoming Available",
            lambda: alive() and _condition(api.get(f"{path}/{PROBE}"), "Available") == "True",
            timeout,
        )
    else:
        pods = f"/api/v1/namespaces/default/pods?labelSelector=app%3D{PROBE}"
        wait_for(
            "the probe Deployment's pod being refused its image (ErrImagePull)",
            lambda: alive() and _refused(api.get(pods)),
            timeout,
        )
    api.request("DELETE", f"{path}/{PROBE}", {"propagationPolicy": "Background"})


REAL_PROBE = "phasegate-sandbox-real-probe"


def start_real_proof(api: Api, image: str, nodes: list[str]) -> None:
    """A Deployment of ``image`` on the real nodes, one replica each, with a real HTTP
    readiness probe: Available means containerd pulled the image over TLS, runc ran it,
    the CNI network carries the kubelet's probe to it. Created early so that it runs
    while the fake nodes' proof does."""
    labels = {"app": REAL_PROBE}
    container = {
        "name": "probe",
        "image": image,
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8080},
                           "periodSeconds": 1},
    }
    spec = {
        "nodeSelector": {LABEL: LABEL_VALUE},
        "tolerations": [{"key": LABEL, "operator": "Equal", "value": LABEL_VALUE,
                         "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 0,
        "containers": [container],
    }
    api.create(
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "metadata": {"name": REAL_PROBE},
            "spec": {
                "replicas": len(nodes),
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        },
    )


def finish_real_proof(api: Api, timeout: float, alive: Callable[[], bool],
                      nodes: list[str]) -> None:
    path = f"/apis/apps/v1/namespaces/default/deployments/{REAL_PROBE}"

    def ready() -> bool:
        dep = api.get(path) or {}
        return alive() and (dep.get("status") or {}).get("readyReplicas") == len(nodes)

    wait_for(f"a Deployment with a readiness probe becoming Ready on {', '.join(nodes)}",
             ready, timeout)
    api.request("DELETE", path, {"propagationPolicy": "Background"})


def _refused(pods: Json | None) -> bool:
    for pod in (pods or {}).get("items") or []:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                return True
    return False


def _condition(obj: Json | None, kind: str) -> str | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None
