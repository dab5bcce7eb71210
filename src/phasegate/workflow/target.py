"""Resolving where a run goes: the plan's target (or the command's), verified before use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.errors import TargetError
from phasegate.plan.model import Target
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext


@dataclass(frozen=True)
class Resolved:
    context: ProbeContext
    identity: dict[str, Any] = field(default_factory=dict)


async def resolve(
    target: Target,
    base_dir: Path,
    calls: Sequence[ProbeCall],
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    inputs: dict[str, Any] | None = None,
    needs_kube: bool = False,
) -> Resolved:
    """The probe context for a run; Kubernetes targets are checked (context, server, UID)."""
    from phasegate.kube import target as kube_target

    chosen = kube_target.choose(target.context, target.kubeconfig, base_dir, context, kubeconfig,
                                target.namespace)
    extras: dict[str, Any] = {"inputs": inputs or {}}
    needs_kube = needs_kube or any(_needs_cluster(call) for call in calls)
    if chosen is None:
        if needs_kube:
            raise TargetError(
                "this needs a Kubernetes target: set target.context in the plan or pass "
                "--context (phasegate never falls back to the current context)"
            )
        return Resolved(ProbeContext(base_dir=base_dir, extras=extras))
    identity = await kube_target.verify(chosen, target.server, target.cluster_uid,
                                        target.ca_fingerprint)
    extras["kube"] = chosen
    return Resolved(ProbeContext(base_dir=base_dir, extras=extras), identity.to_dict())


async def release() -> None:
    from phasegate.kube import connections

    await connections.close_all()


def _needs_cluster(call: ProbeCall) -> bool:
    from phasegate.probes import registry

    spec = registry.get(call.kind)
    return spec is not None and spec.needs_cluster
