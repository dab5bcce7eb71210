"""``k8s.exists``, ``k8s.absent``, ``k8s.condition``: objects and their conditions, by watch."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from phasegate.kube import diagnostics, objects, waiting
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext
from phasegate.probes.k8s_common import ObjectRef, cluster_probe, resolve


async def check_exists(params: ObjectRef, ctx: ProbeContext) -> Verdict:
    client, resource, namespace = await resolve(params, ctx)
    listing = await objects.list_objects(client, resource, namespace, name=params.name,
                                         memo=ctx.memo())
    data: dict[str, Any] = {"watch": [listing.watch]}
    if listing.items:
        uid = listing.items[0]["metadata"].get("uid")
        return Verdict(True, "exists", f"exists (uid {uid})", data=data)
    return Verdict(False, "exists", "not found", data=data)


async def check_absent(params: ObjectRef, ctx: ProbeContext) -> Verdict:
    client, resource, namespace = await resolve(params, ctx)
    listing = await objects.list_objects(client, resource, namespace, name=params.name,
                                         memo=ctx.memo())
    data: dict[str, Any] = {"watch": [listing.watch]}
    if not listing.items:
        return Verdict(True, "absent", "absent", data=data)
    meta = listing.items[0]["metadata"]
    observed = "exists"
    if meta.get("deletionTimestamp"):
        observed = f"being deleted; finalizers: {', '.join(meta.get('finalizers') or []) or 'none'}"
    return Verdict(False, "absent", observed, data=data)


class ConditionParams(ObjectRef):
    condition: str = Field(description="condition type, e.g. Ready or Available")
    status: str = Field("True", description="expected status: True, False or Unknown")
    reason: str | None = Field(None, description="expected reason, when it matters")

    def describe(self) -> str:
        return f"{super().describe()} {self.condition}={self.status}"


async def check_condition(params: ConditionParams, ctx: ProbeContext) -> Verdict:
    expected = f"{params.condition}={params.status}" + (
        f" ({params.reason})" if params.reason else ""
    )
    client, resource, namespace = await resolve(params, ctx)
    listing = await objects.list_objects(client, resource, namespace, name=params.name,
                                         memo=ctx.memo())
    data: dict[str, Any] = {"watch": [listing.watch]}
    if not listing.items:
        return Verdict(False, expected, "object not found", data=data)
    obj = listing.items[0]
    generation = obj["metadata"].get("generation")
    found = objects.condition(obj, params.condition)
    data["conditions"] = objects.conditions(obj)
    if not isinstance(obj.get("status"), dict) or not obj["status"]:
        return Verdict(False, expected, "no status yet (the controller has not reported)",
                       data=data)
    if found is None:
        return Verdict(False, expected, f"no {params.condition} condition; has "
                       f"{objects.describe_conditions(obj)}", data=data)
    observed = f"{params.condition}={found.get('status')}"
    if found.get("reason"):
        observed += f" ({found['reason']}: {found.get('message', '')})".replace(": )", ")")
    seen_generation = found.get("observedGeneration", obj["status"].get("observedGeneration"))
    if generation is not None and seen_generation is not None and seen_generation < generation:
        # a leftover condition from the previous spec must not satisfy the gate
        return Verdict(False, expected, f"{observed}, but stale: observedGeneration "
                       f"{seen_generation} < generation {generation}", data=data)
    matches = str(found.get("status")) == params.status and (
        params.reason is None or found.get("reason") == params.reason
    )
    return Verdict(matches, expected, observed, data=data)


PROBES = [
    cluster_probe("k8s.exists", ObjectRef, check_exists, "an object exists",
              wait=waiting.wait, diagnose=diagnostics.for_object),
    cluster_probe("k8s.absent", ObjectRef, check_absent, "an object does not exist (or is gone)",
              wait=waiting.wait, diagnose=diagnostics.for_object),
    cluster_probe("k8s.condition", ConditionParams, check_condition,
              "an object's condition has a status (and reason), for its current generation",
              wait=waiting.wait, diagnose=diagnostics.for_object),
]
