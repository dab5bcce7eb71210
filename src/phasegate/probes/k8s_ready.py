"""``k8s.ready``: objects ready by the kstatus rules (``kube.kstatus``), one or a whole list.

A list is read the way an informer would read it: one list (and, while waiting, one watch)
per kind and namespace, however many objects of that kind the list names; the pods of
workloads that are not Current yet are read once per namespace, to fail fast on pods that
cannot start. The observation says, for every object, its status and the rule that decided.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from phasegate.errors import ProbeError
from phasegate.kube import connections, diagnostics, kstatus, kstatus_pods, objects, waiting
from phasegate.kube.client import Json, KubeClient, Resource
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import ObjectRef, cluster_probe

SHOWN = 3  # objects named in the headline; the detail names them all
MAX_DIAGNOSED = 5


class ReadyParams(ProbeParams):
    kind: str | None = Field(None, description="one object: its kind (or give objects)")
    name: str | None = Field(None, description="one object: its name")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    api_version: str | None = Field(
        None, alias="apiVersion", description="e.g. apps/v1; found by discovery when omitted")
    objects: list[ObjectRef] = Field(
        default_factory=list, description="many objects at once: [{kind, name, namespace?, "
        "apiVersion?}]; one list and one watch per kind and namespace")

    @model_validator(mode="after")
    def _what(self) -> ReadyParams:
        one = self.kind is not None or self.name is not None
        if one and self.objects:
            raise ValueError("give kind and name (one object) or objects (a list), not both")
        if not self.objects and not (self.kind and self.name):
            raise ValueError("give kind and name, or objects: [{kind, name}, ...]")
        return self

    def refs(self) -> list[ObjectRef]:
        if self.objects:
            return list(self.objects)
        return [ObjectRef(kind=str(self.kind), name=str(self.name), namespace=self.namespace,
                          apiVersion=self.api_version)]

    def describe(self) -> str:
        if not self.objects:
            return ObjectRef.describe(self.refs()[0])
        kinds = Counter(ref.kind for ref in self.objects)
        return f"{len(self.objects)} objects (" + ", ".join(
            f"{count} {kind}" for kind, count in kinds.items()) + ")"


Group = tuple[Resource, str | None]  # a kind in a namespace (None: cluster-scoped)


async def check_ready(params: ReadyParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    refs = params.refs()
    groups: dict[tuple[str, str | None], tuple[Group, list[tuple[int, ObjectRef]]]] = {}
    names: list[str] = []
    for index, ref in enumerate(refs):
        resource = await client.find_kind(ref.kind, ref.api_version)
        namespace = connections.namespace_of(ctx, ref.namespace) if resource.namespaced else None
        entry = groups.setdefault((resource.path(namespace), namespace),
                                  ((resource, namespace), []))
        entry[1].append((index, ref))
        names.append(f"{ref.kind} {namespace}/{ref.name}" if namespace else
                     f"{ref.kind} {ref.name}")
    listings = await asyncio.gather(*(
        _list(client, group, [ref.name for _, ref in members], ctx)
        for group, members in groups.values()))
    watches = [listing.watch for listing in listings]
    now = datetime.now(UTC)
    found: list[Json | None] = [None] * len(names)
    results: list[kstatus.Result] = [kstatus.not_found()] * len(names)
    for (group, members), listing in zip(groups.values(), listings, strict=True):
        by_name = {item["metadata"].get("name"): item for item in listing.items}
        for index, ref in members:
            obj = by_name.get(ref.name)
            if obj is not None:
                obj = {"apiVersion": group[0].api_version, "kind": group[0].kind, **obj}
                found[index] = obj
                results[index] = kstatus.compute(obj, now)
    watches += await _judge_pods(client, found, results)
    return _verdict(names, results, watches)


async def _list(client: KubeClient, group: Group, names: list[str],
                ctx: ProbeContext) -> objects.Listing:
    resource, namespace = group
    if len(names) == 1:  # one object: its watch event is kept, the next attempt reads it
        return await objects.list_objects(client, resource, namespace, name=names[0],
                                          memo=ctx.memo())
    return await objects.list_objects(client, resource, namespace)


async def _judge_pods(client: KubeClient, found: list[Json | None],
                      results: list[kstatus.Result]) -> list[dict[str, Any]]:
    """Workloads the kind rule holds InProgress: Failed when a current pod cannot start."""
    waiting_on = [(i, obj) for i, obj in enumerate(found) if obj is not None
                  and obj.get("kind") in kstatus_pods.WORKLOADS
                  and results[i].status == "InProgress"
                  and not results[i].rule.startswith("generic")]
    watches: list[dict[str, Any]] = []
    for namespace in sorted({str(obj["metadata"].get("namespace")) for _, obj in waiting_on}):
        here = [(i, obj) for i, obj in waiting_on if obj["metadata"].get("namespace") == namespace]
        try:
            pods = await _listing(client, "Pod", "v1", namespace)
            sets: list[Json] = []
            if any(obj["kind"] == "Deployment" for _, obj in here):
                listing = await _listing(client, "ReplicaSet", "apps/v1", namespace)
                watches.append(listing.watch)
                sets = listing.items
        except ProbeError as exc:
            if exc.retryable:
                raise
            continue  # an identity that may not list pods: the kind rules alone decide
        watches.append(pods.watch)
        for i, obj in here:
            failed = kstatus_pods.judge(obj, pods.items, sets)
            if failed is not None:
                results[i] = failed
    return watches


async def _listing(client: KubeClient, kind: str, api_version: str,
                   namespace: str) -> objects.Listing:
    resource = await client.find_kind(kind, api_version)
    return await objects.list_objects(client, resource, namespace)


def _verdict(names: list[str], results: list[kstatus.Result],
             watches: list[dict[str, Any]]) -> Verdict:
    lines = [f"{name}: {r.status} — {r.message} [rule: {r.rule}; {r.reason}]"
             for name, r in zip(names, results, strict=True)]
    data: dict[str, Any] = {"watch": watches, "objects": [
        {"object": name, "status": r.status, "rule": r.rule, "reason": r.reason,
         "message": r.message} for name, r in zip(names, results, strict=True)]}
    expected = "Current (kstatus)" if len(names) == 1 else f"all {len(names)} objects Current"
    current = sum(1 for r in results if r.current)
    failed = [i for i, r in enumerate(results) if r.status == "Failed"]
    if failed:
        shown = "; ".join(_said(names[i], results[i]) for i in failed[:SHOWN])
        more = f" (and {len(failed) - SHOWN} more)" if len(failed) > SHOWN else ""
        return Verdict(False, expected, f"Failed: {shown}{more}", detail="\n".join(lines),
                       fail_fast=True, data=data)
    if current == len(names):
        observed = (f"Current: {results[0].message} [rule: {results[0].rule}]" if len(names) == 1
                    else f"{current} of {len(names)} Current")
        return Verdict(True, expected, observed, detail="\n".join(lines), data=data)
    pending = [i for i, r in enumerate(results) if not r.current]
    shown = "; ".join(_said(names[i], results[i]) for i in pending[:SHOWN])
    more = f" (and {len(pending) - SHOWN} more)" if len(pending) > SHOWN else ""
    observed = (f"{current} of {len(names)} Current; waiting for " if len(names) > 1 else "") + \
        shown + more
    return Verdict(False, expected, observed, detail="\n".join(lines), data=data)


def _said(name: str, result: kstatus.Result) -> str:
    return f"{name}: {result.status} — {result.message} [rule: {result.rule}]"


async def _diagnose(params: ReadyParams, ctx: ProbeContext) -> str:
    """The usual diagnostics, for the objects that are not Current (the first few)."""
    verdict = await check_ready(params, ctx)
    statuses = verdict.data.get("objects") or []
    pending = [ref for ref, seen in zip(params.refs(), statuses, strict=True)
               if seen.get("status") != "Current"]
    sections = [await diagnostics.for_object(ref, ctx) for ref in pending[:MAX_DIAGNOSED]]
    if len(pending) > MAX_DIAGNOSED:
        sections.append(f"({len(pending) - MAX_DIAGNOSED} more objects not Current: see the "
                        "observation's detail)")
    return "\n".join(sections)


PROBES = [
    cluster_probe("k8s.ready", ReadyParams, check_ready,
                  "objects are ready by the kstatus rules (Deployments available, Jobs "
                  "complete, PVCs bound, Ready/Stalled conditions, …); fails fast on Failed",
                  wait=waiting.wait, diagnose=_diagnose),
]
