"""``k8s.api`` and ``k8s.crd``: what the API server serves, found by discovery."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from phasegate.kube import connections, objects, waiting
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class ApiParams(ProbeParams):
    api: str = Field(description="group/version/Kind, e.g. apps/v1/Deployment or v1/ConfigMap")

    @field_validator("api")
    @classmethod
    def _shape(cls, value: str) -> str:
        if value.count("/") not in (1, 2) or value.endswith("/"):
            raise ValueError(f"expected group/version/Kind or version/Kind, got {value!r}")
        return value

    def describe(self) -> str:
        return self.api


async def check_api(params: ApiParams, ctx: ProbeContext) -> Verdict:
    api_version, _, kind = params.api.rpartition("/")
    client = connections.client_for(ctx)
    client.forget_discovery()  # a CRD installed a moment ago must be seen
    served = await client.resources(api_version)
    expected = f"{params.api} served"
    if not served:
        group = api_version.rpartition("/")[0]
        others = await client.group_versions(group) if group else []
        hint = f"; the server serves {', '.join(others)}" if others else ""
        return Verdict(False, expected, f"{api_version} not served{hint}")
    for resource in served:
        if resource.kind == kind:
            scope = "namespaced" if resource.namespaced else "cluster-scoped"
            return Verdict(True, expected, f"served as {resource.plural} ({scope})")
    kinds = ", ".join(sorted(r.kind for r in served))
    return Verdict(False, expected, f"{api_version} has no kind {kind} (it has: {kinds})")


class CrdParams(ProbeParams):
    name: str = Field(description="CRD name: <plural>.<group>, e.g. clusters.postgresql.cnpg.io")

    def describe(self) -> str:
        return self.name


async def check_crd(params: CrdParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    resource = await client.find_kind("CustomResourceDefinition", "apiextensions.k8s.io/v1")
    listing = await objects.list_objects(client, resource, None, name=params.name,
                                         memo=ctx.memo())
    data: dict[str, Any] = {"watch": [listing.watch]}
    expected = "exists and Established"
    if not listing.items:
        return Verdict(False, expected, "not found", data=data)
    crd = listing.items[0]
    established = objects.condition(crd, "Established")
    versions = [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("served")]
    observed = f"{objects.describe_conditions(crd)}; serves {', '.join(versions)}"
    passed = established is not None and established.get("status") == "True"
    return Verdict(passed, expected, observed, data=data)


PROBES = [
    cluster_probe("k8s.api", ApiParams, check_api, "an API group/version/kind is served",
              default_interval=1.0),
    cluster_probe("k8s.crd", CrdParams, check_crd, "a CRD exists and is Established",
              wait=waiting.wait),
]
