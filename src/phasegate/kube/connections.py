"""One client per (kubeconfig, context) and event loop, reused by every probe of a run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from phasegate import probe_input
from phasegate.errors import TargetError
from phasegate.kube import kubeconfig
from phasegate.kube.client import KubeClient

_clients: dict[tuple[str, str, int], KubeClient] = {}


@dataclass(frozen=True)
class KubeTarget:
    """Where Kubernetes probes go. Plain data: it travels in the ProbeContext."""

    kubeconfig: str | None
    context: str
    namespace: str = "default"


def target_of(ctx: probe_input.ProbeContext) -> KubeTarget:
    target = ctx.extras.get("kube")
    if not isinstance(target, KubeTarget):
        raise TargetError(
            "this probe talks to Kubernetes, but no context was named: set target.context in "
            "the plan or pass --context (phasegate never falls back to the current context)"
        )
    return target


def client_for(ctx: probe_input.ProbeContext) -> KubeClient:
    target = target_of(ctx)
    key = (target.kubeconfig or "", target.context, id(asyncio.get_running_loop()))
    client = _clients.get(key)
    if client is None:
        client = KubeClient(kubeconfig.load(target.kubeconfig, target.context))
        _clients[key] = client
    return client


def namespace_of(ctx: probe_input.ProbeContext, given: str | None) -> str:
    return given or target_of(ctx).namespace


async def close_all() -> None:
    """Close the clients of the running loop (before asyncio.run returns)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[2] == loop_id]:
        await _clients.pop(key).close()
