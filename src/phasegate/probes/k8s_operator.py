"""``k8s.operator``: an operator is running — its Deployment Available, or its OLM
ClusterServiceVersion Succeeded."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from phasegate.kube import connections, diagnostics, objects, waiting
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import ObjectRef, cluster_probe


class OperatorParams(ProbeParams):
    deployment: str | None = Field(None, description="the operator's Deployment name")
    csv: str | None = Field(None, description="an OLM ClusterServiceVersion name (or prefix)")
    namespace: str | None = Field(None, description="where the operator runs")

    @model_validator(mode="after")
    def _one(self) -> OperatorParams:
        if (self.deployment is None) == (self.csv is None):
            raise ValueError("give exactly one of deployment or csv")
        return self

    def describe(self) -> str:
        return f"deployment {self.deployment}" if self.deployment else f"csv {self.csv}"


async def check_operator(params: OperatorParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    if params.deployment:
        resource = await client.find_kind("Deployment", "apps/v1")
        listing = await objects.list_objects(client, resource, namespace, name=params.deployment,
                                             memo=ctx.memo())
        data: dict[str, Any] = {"watch": [listing.watch]}
        if not listing.items:
            return Verdict(False, "Available=True", "deployment not found", data=data)
        return _deployment_verdict(listing.items[0], data)
    csv_resource = await client.resource("operators.coreos.com/v1alpha1", "ClusterServiceVersion")
    if csv_resource is None:
        return Verdict(False, "phase Succeeded", "OLM is not installed (no ClusterServiceVersion "
                       "API)", fail_fast=True)
    listing = await objects.list_objects(client, csv_resource, namespace)
    data = {"watch": [listing.watch]}
    current = _current_csvs(listing.items, params.csv or "")
    if not current:
        return Verdict(False, "phase Succeeded", "no such ClusterServiceVersion", data=data)
    if len(current) > 1:
        names = ", ".join(sorted(_name(i) for i in current))
        return Verdict(False, "phase Succeeded", f"{len(current)} operators match "
                       f"'{params.csv}' ({names}): name one", data=data)
    phase = current[0].get("status", {}).get("phase", "no phase yet")
    return Verdict(phase == "Succeeded", "phase Succeeded", f"{_name(current[0])}: {phase}",
                   data=data)


def _deployment_verdict(item: dict[str, Any], data: dict[str, Any]) -> Verdict:
    observed = objects.describe_conditions(item)
    generation = item.get("metadata", {}).get("generation")
    seen = item.get("status", {}).get("observedGeneration")
    if generation is not None and (seen is None or seen < generation):
        # Available=True is about a spec the controller has seen; it says nothing of this one
        return Verdict(False, "Available=True", f"{observed}, but the status is of generation "
                       f"{seen or 0}, the spec is at generation {generation}", data=data)
    available = objects.condition(item, "Available")
    passed = available is not None and available.get("status") == "True"
    return Verdict(passed, "Available=True", observed, data=data)


def _current_csvs(items: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The CSV named ``wanted``, else the newest of the operator it names: OLM names CSVs
    '<package>.v<version>', so 'cnpg' means cnpg.v1.21.0, never cnpg-barman-plugin.v0.1.0;
    and while an upgrade runs, the version being replaced is not the operator's state."""
    exact = [i for i in items if _name(i) == wanted]
    if exact:
        return exact
    matches = [i for i in items if _name(i).startswith(wanted)
               and ("." in wanted or _name(i)[len(wanted)] == ".")]  # 'cnpg.v1' is a version
    replaced = {str(i.get("spec", {}).get("replaces")) for i in matches}
    return [i for i in matches if _name(i) not in replaced]


def _name(item: dict[str, Any]) -> str:
    return str(item.get("metadata", {}).get("name"))


async def _diagnose(params: OperatorParams, ctx: ProbeContext) -> str:
    if params.deployment is None:
        return ""
    ref = ObjectRef.model_validate({"kind": "Deployment", "name": params.deployment,
                                    "namespace": params.namespace})
    return await diagnostics.for_object(ref, ctx)


PROBES = [cluster_probe("k8s.operator", OperatorParams, check_operator,
                    "an operator's Deployment is Available, or its OLM CSV Succeeded",
                    wait=waiting.wait, diagnose=_diagnose)]
