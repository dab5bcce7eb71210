"""What Kubernetes probes share: how an object is named, and how to find its resource."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from phasegate import probe_input
from phasegate.kube import connections
from phasegate.kube.client import KubeClient, Resource
from phasegate.observation import Verdict
from phasegate.probes.base import P, ProbeContext, ProbeSpec


class ObjectRef(probe_input.ProbeParams):
    kind: str = Field(description="kind, e.g. Deployment or a custom resource's kind")
    name: str = Field(description="object name")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    api_version: str | None = Field(
        None, alias="apiVersion", description="e.g. apps/v1; found by discovery when omitted"
    )

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


async def resolve(params: ObjectRef, ctx: ProbeContext) -> tuple[KubeClient, Resource, str | None]:
    client = connections.client_for(ctx)
    resource = await client.find_kind(params.kind, params.api_version)
    namespace = connections.namespace_of(ctx, params.namespace) if resource.namespaced else None
    return client, resource, namespace


def cluster_probe(
    kind: str, params: type[P], check: Callable[[P, ProbeContext], Awaitable[Verdict]],
    summary: str, **options: Any,
) -> ProbeSpec[P]:
    """A probe kind that asks the Kubernetes API: runs using it resolve and pin a cluster."""
    return ProbeSpec(kind, params, check, summary, needs_cluster=True, **options)
