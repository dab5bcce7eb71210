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
        listing = await objects.list_objects(client, resource, namespace, name=params.deployment)
        data: dict[str, Any] = {"watch": [listing.watch]}
        if not listing.items:
            return Verdict(False, "Available=True", "deployment not found", data=data)
        available = objects.condition(listing.items[0], "Available")
        observed = objects.describe_conditions(listing.items[0])
        passed = available is not None and available.get("status") == "True"
        return Verdict(passed, "Available=True", observed, data=data)
    csv_resource = await client.resource("operators.coreos.com/v1alpha1", "ClusterServiceVersion")
    if csv_resource is None:
        return Verdict(False, "phase Succeeded", "OLM is not installed (no ClusterServiceVersion "
                       "API)", fail_fast=True)
    listing = await objects.list_objects(client, csv_resource, namespace)
    data = {"watch": [listing.watch]}
    matches = [i for i in listing.items if str(i["metadata"]["name"]).startswith(params.csv or "")]
    if not matches:
        return Verdict(False, "phase Succeeded", "no such ClusterServiceVersion", data=data)
    phase = matches[0].get("status", {}).get("phase", "no phase yet")
    return Verdict(phase == "Succeeded", "phase Succeeded",
                   f"{matches[0]['metadata']['name']}: {phase}", data=data)


async def _diagnose(params: OperatorParams, ctx: ProbeContext) -> str:
    if params.deployment is None:
        return ""
    ref = ObjectRef.model_validate({"kind": "Deployment", "name": params.deployment,
                                    "namespace": params.namespace})
    return await diagnostics.for_object(ref, ctx)


PROBES = [cluster_probe("k8s.operator", OperatorParams, check_operator,
                    "an operator's Deployment is Available, or its OLM CSV Succeeded",
                    wait=waiting.wait, diagnose=_diagnose)]
