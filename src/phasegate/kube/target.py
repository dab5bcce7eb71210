"""Cluster pinning: the plan names its context (and optionally server and cluster UID);
phasegate refuses anything else and never falls back to the current context."""

from __future__ import annotations

from pathlib import Path

from phasegate.errors import PhasegateError, TargetError
from phasegate.kube import client as kube_client
from phasegate.kube import identity, kubeconfig
from phasegate.kube.client import KubeClient
from phasegate.kube.connections import KubeTarget
from phasegate.kube.identity import ClusterIdentity

KUBE_SYSTEM = "/api/v1/namespaces/kube-system"


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
    target: KubeTarget,
    expected_server: str | None = None,
    expected_uid: str | None = None,
    expected_ca: str | None = None,
) -> ClusterIdentity:
    """Connect and check the cluster is the declared one; TargetError otherwise.

    The server URL and the CA fingerprint identify the cluster: every identity has them, so
    nothing is asked of namespace kube-system unless the plan pins its UID (then an identity
    that may not read it is refused, and its reading is what identifies the cluster).
    """
    credentials = kubeconfig.load(target.kubeconfig, target.context)
    if expected_server and expected_server.rstrip("/") != credentials.server:
        raise TargetError(
            f"context {target.context!r} points at {credentials.server}, but the plan's "
            f"target.server is {expected_server}"
        )
    fingerprint = identity.ca_fingerprint(credentials.ssl_context)
    if expected_ca and expected_ca.lower() != fingerprint:
        raise TargetError(
            f"context {target.context!r} trusts the CA {fingerprint or '(none of its own)'} "
            f"for {credentials.server}, but the plan's target.caFingerprint is {expected_ca}: "
            "refusing the wrong cluster"
        )
    client = KubeClient(credentials, timeout=10)
    try:
        version = await client.get("/version") or {}
        uid = await _pinned_uid(client, target.context, fingerprint, expected_uid)
    except PhasegateError as exc:
        if isinstance(exc, TargetError):
            raise
        raise TargetError(f"cluster of context {target.context!r} is unusable: {exc}") from None
    finally:
        await client.close()
    how = identity.BY_UID if uid else identity.BY_SERVER_CA if fingerprint else identity.BY_SERVER
    return ClusterIdentity(target.context, credentials.server, uid,
                           str(version.get("gitVersion", "unknown")), how, fingerprint)


async def _pinned_uid(client: KubeClient, context: str, fingerprint: str,
                      expected_uid: str | None) -> str:
    """The kube-system UID when the plan pins it (and it matches); "" when it does not."""
    if not expected_uid:
        return ""
    server = client.credentials.server
    response = await client.request("GET", KUBE_SYSTEM)
    if response.status_code == 403:
        raise TargetError(_unreadable_uid(context, server, fingerprint,
                                          kube_client.status_message(response)))
    kube_client.raise_for_status(response, f"GET {KUBE_SYSTEM}")
    try:
        uid = str(response.json()["metadata"]["uid"])
    except (ValueError, KeyError, TypeError):
        raise TargetError(f"GET {server}{KUBE_SYSTEM} answered {response.status_code} without "
                          "a namespace UID: is the kubeconfig's server a Kubernetes API "
                          "server?") from None
    if uid != expected_uid:
        raise TargetError(
            f"context {context!r} reaches the cluster with kube-system UID {uid}, "
            f"but the plan's target.clusterUID is {expected_uid}: refusing the wrong cluster"
        )
    return uid


def _unreadable_uid(context: str, server: str, fingerprint: str, denial: str) -> str:
    by_ca = (f"target.server: {server} and target.caFingerprint: '{fingerprint}'" if fingerprint
             else f"target.server: {server} (its kubeconfig names no CA to fingerprint)")
    return (
        f"the plan pins target.clusterUID, but context {context!r} may not read namespace "
        f"kube-system ({denial}), so phasegate cannot tell which cluster it reaches and refuses "
        "to guess. Either grant this identity get on namespaces/kube-system (a ClusterRole "
        "with apiGroups [\"\"], resources [namespaces], resourceNames [kube-system], verbs "
        "[get], bound to it by a ClusterRoleBinding), or pin the cluster by what it can see: "
        f"replace clusterUID with {by_ca}"
    )
