"""Cluster pinning: the plan names its context (and optionally server and cluster UID);
phasegate refuses anything else and never falls back to the current context."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from phasegate.errors import PhasegateError, TargetError
from phasegate.kube import kubeconfig
from phasegate.kube.client import KubeClient
from phasegate.kube.connections import KubeTarget


@dataclass(frozen=True)
class ClusterIdentity:
    """Who we talked to; recorded with every run."""

    context: str
    server: str
    cluster_uid: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose(
    declared_context: str | None,
    declared_kubeconfig: str | None,
    base_dir: Path,
    context_option: str | None,
    kubeconfig_option: str | None,
    namespace: str | None,
) -> KubeTarget | None:
    """The target to use, or None when neither the plan nor the command names a context."""
    if declared_context and context_option and context_option != declared_context:
        raise TargetError(
            f"the plan declares context {declared_context!r}; refusing --context "
            f"{context_option!r} (edit target.context to change where the plan runs)"
        )
    context = declared_context or context_option
    if context is None:
        return None
    config = kubeconfig_option or (
        str(base_dir / declared_kubeconfig) if declared_kubeconfig else None
    )
    return KubeTarget(kubeconfig=config, context=context, namespace=namespace or "default")


async def verify(
    target: KubeTarget, expected_server: str | None = None, expected_uid: str | None = None
) -> ClusterIdentity:
    """Connect and check the cluster is the declared one; TargetError otherwise."""
    credentials = kubeconfig.load(target.kubeconfig, target.context)
    if expected_server and expected_server.rstrip("/") != credentials.server:
        raise TargetError(
            f"context {target.context!r} points at {credentials.server}, but the plan's "
            f"target.server is {expected_server}"
        )
    client = KubeClient(credentials, timeout=10)
    try:
        version = await client.get("/version") or {}
        kube_system = await client.get("/api/v1/namespaces/kube-system")
    except PhasegateError as exc:
        raise TargetError(f"cluster of context {target.context!r} is unusable: {exc}") from None
    finally:
        await client.close()
    uid = str((kube_system or {}).get("metadata", {}).get("uid", ""))
    if expected_uid and uid != expected_uid:
        raise TargetError(
            f"context {target.context!r} reaches the cluster with kube-system UID {uid or '?'}, "
            f"but the plan's target.clusterUID is {expected_uid}: refusing the wrong cluster"
        )
    return ClusterIdentity(target.context, credentials.server, uid,
                           str(version.get("gitVersion", "unknown")))
