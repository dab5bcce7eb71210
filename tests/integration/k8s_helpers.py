"""Running Kubernetes probes and actions against the sandbox, as a gate would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from phasegate.engine import gate
from phasegate.kube import connections
from phasegate.kube.client import KubeClient
from phasegate.kube.connections import KubeTarget
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from phasegate.sandbox import SandboxInfo

T = TypeVar("T")


def context_for(cluster: SandboxInfo, namespace: str, restricted: bool = False) -> ProbeContext:
    target = KubeTarget(
        kubeconfig=str(cluster.kubeconfig),
        context=cluster.restricted_context if restricted else cluster.admin_context,
        namespace=namespace,
    )
    return ProbeContext(base_dir=Path.cwd(), extras={"kube": target, "inputs": {}})


def evaluate(
    cluster: SandboxInfo, namespace: str, specs: list[dict[str, Any]], timeout: float = 0,
    restricted: bool = False, base_dir: Path | None = None,
) -> gate.GateResult:
    ctx = context_for(cluster, namespace, restricted)
    if base_dir is not None:
        ctx = ProbeContext(base_dir=base_dir, extras=ctx.extras)
    calls = [probe_call.build(spec) for spec in specs]

    async def run() -> gate.GateResult:
        try:
            return await gate.evaluate(calls, ctx, timeout)
        finally:
            await connections.close_all()

    return asyncio.run(run())


def with_client(
    cluster: SandboxInfo, namespace: str, work: Callable[[KubeClient], Awaitable[T]]
) -> T:
    ctx = context_for(cluster, namespace)

    async def run() -> T:
        try:
            return await work(connections.client_for(ctx))
        finally:
            await connections.close_all()

    return asyncio.run(run())


def write_yaml(path: Path, *documents: dict[str, Any]) -> Path:
    path.write_text("\n---\n".join(json.dumps(d) for d in documents))
    return path


def held_image(cluster: SandboxInfo, repo_tag: str = "shop/api:1.4.2") -> str:
    """An image the sandbox's registry holds: the only kind a sandbox pod can run."""
    return f"{cluster.registry}/{repo_tag}"


def deployment(name: str, replicas: int = 2, *, image: str,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
