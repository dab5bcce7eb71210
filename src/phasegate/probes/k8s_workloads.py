"""``k8s.rollout`` and ``k8s.pods``: workloads rolled out and pods Ready — judging the current
revision only (as ``kubectl rollout status`` does) and failing fast on states that waiting
cannot fix: pods the API server refuses to create (quota, Pod Security, LimitRange, a missing
ServiceAccount), image pull errors, crash loops, bad container config."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from phasegate.kube import (
    connections,
    diagnostics,
    kstatus,
    objects,
    refusals,
    revisions,
    waiting,
)
from phasegate.kube.client import Json, KubeClient
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe

FATAL_REASONS = kstatus.FATAL_REASONS
WORKLOAD = re.compile(r"^(Deployment|StatefulSet|DaemonSet|Job)/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


class RolloutParams(ProbeParams):
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    name: str
    namespace: str | None = Field(None, description="default: the plan's target namespace")

    def describe(self) -> str:
        return f"{self.kind} {self.name}"


class PodsParams(ProbeParams):
    selector: str | None = Field(None, description="label selector, e.g. app=api,tier=web")
    workload: str | None = Field(
        None, pattern=WORKLOAD.pattern,
        description="Deployment/NAME, StatefulSet/NAME, DaemonSet/NAME or Job/NAME: only the "
        "pods of its current revision count (with selector: those of them it matches)")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    min: int = Field(1, ge=0, description="at least this many pods must exist and be Ready")

    @field_validator("selector", mode="before")
    @classmethod
    def _selector(cls, value: object) -> object:
        if isinstance(value, dict):
            return ",".join(f"{k}={v}" for k, v in value.items())
        return value

    @model_validator(mode="after")
    def _what(self) -> PodsParams:
        if not self.selector and not self.workload:
            raise ValueError("give a selector, a workload (e.g. Deployment/api), or both")
        return self

    def describe(self) -> str:
        return " ".join(s for s in (self.workload, self.selector) if s)


async def check_rollout(params: RolloutParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    resource = await client.find_kind(params.kind, "apps/v1")
    listing = await objects.list_objects(client, resource, namespace, name=params.name,
                                         memo=ctx.memo())
    expected = "rolled out: all replicas updated and available, no old replicas"
    watches = [listing.watch]
    if not listing.items:
        return Verdict(False, expected, "not found", data={"watch": watches})
    workload = {"kind": params.kind, **listing.items[0]}
    progress, done = rollout_progress(workload)
    data: dict[str, Any] = {"watch": watches, "status": workload.get("status", {})}
    if done:
        return Verdict(True, expected, progress, data=data)
    revision = await revisions.current(client, namespace, workload)
    stuck, headline, detail = await _judge(client, namespace, workload, revision, progress)
    watches += revision.watches
    if stuck:
        return Verdict(False, expected, headline, fail_fast=True, detail=detail, data=data)
    if "ProgressDeadlineExceeded" in progress:
        return Verdict(False, expected, progress, fail_fast=True, detail=detail, data=data)
    return Verdict(False, expected, headline, detail=detail, data=data)


async def _judge(client: KubeClient, namespace: str, workload: Json,
                 revision: revisions.Revision, progress: str) -> tuple[bool, str, str]:
    """(stuck: waiting cannot help, headline, detail) for the current revision."""
    refusal, watches = await refusals.find(client, namespace, workload, revision)
    revision.watches.extend(watches)
    others = _others(revision)
    if refusal is not None and refusal.fatal:
        return True, f"{refusal.headline()}; {progress}", f"{refusal.source}: " \
            f"{refusal.message}\n{others}"
    fatal = fatal_states(revision.current)
    if fatal:
        return True, f"{progress}; {fatal[0]}", "\n".join([*fatal, others])
    if refusal is not None:  # seen, but the controller may still succeed: keep it in view
        return False, f"{progress}; {refusal.headline()}, not final: {refusal.note}", others
    return False, progress, others


def _others(revision: revisions.Revision) -> str:
    """Pods that are not judged, said as such: they are on their way out."""
    lines = [f"current revision: {revision.owner_ref}"]
    for label, pods in (("old revision", revision.old), ("terminating", revision.terminating)):
        for pod in pods:
            states = fatal_states([pod])
            lines.append(f"{label} (not judged): pod {pod['metadata']['name']}"
                         + (f": {'; '.join(s.split(': ', 1)[1] for s in states)}"
                            if states else ""))
    return "\n".join(lines)


def rollout_progress(workload: Json) -> tuple[str, bool]:
    """``kubectl rollout status`` semantics: (what is happening, done?)."""
    spec = workload.get("spec") or {}
    status = workload.get("status") or {}
    generation = workload["metadata"].get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "waiting for the controller to observe the new spec", False
    kind = workload.get("kind")
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        updated = status.get("updatedNumberScheduled", 0)
        available = status.get("numberAvailable", 0)
        if updated < desired:
            return f"{updated} of {desired} updated pods scheduled", False
        if available < desired:
            return f"{available} of {desired} updated pods available", False
        return f"{desired} of {desired} pods updated and available", True
    replicas = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if kind == "StatefulSet":
        partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get(
            "partition", 0)
        ready = status.get("readyReplicas", 0)
        if ready < replicas:
            return f"{ready} of {replicas} pods ready", False
        if updated < replicas - partition:
            return f"{updated} of {replicas - partition} pods updated", False
        if partition == 0 and status.get("currentRevision") != status.get("updateRevision"):
            return "waiting for the update revision to become current", False
        return f"{replicas} of {replicas} pods updated and ready", True
    progressing = objects.condition(workload, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"ProgressDeadlineExceeded: {progressing.get('message', '')}", False
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < replicas:
        return f"{updated} of {replicas} replicas updated", False
    if total > updated:
        return f"{total - updated} old replicas pending termination", False
    if available < updated:
        return f"{available} of {updated} updated replicas available", False
    return f"{updated} of {replicas} replicas updated and available", True


async def check_pods(params: PodsParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    what = (f"of the current revision of {params.workload}" if params.workload else
            f"matching {params.selector}") + (
            f" matching {params.selector}" if params.workload and params.selector else "")
    expected = f"at least {params.min} pod(s) {what}, all Ready"
    if params.workload:
        kind, _, name = params.workload.partition("/")
        resource = await client.find_kind(kind, revisions.KINDS[kind])
        listing = await objects.list_objects(client, resource, namespace, name=name,
                                             memo=ctx.memo())
        data: dict[str, Any] = {"watch": [listing.watch]}
        if not listing.items:
            return Verdict(False, expected, f"{params.workload} not found", data=data)
        workload = {"kind": kind, **listing.items[0]}
        revision = await revisions.current(client, namespace, workload, params.selector)
        stuck, headline, detail = await _judge(client, namespace, workload, revision,
                                               _count(revision.current))
        data["watch"] += revision.watches
        if stuck:
            return Verdict(False, expected, headline, detail=detail, fail_fast=True, data=data)
        live = revision.current
    else:
        pods = await _pods(client, namespace, str(params.selector))
        data = {"watch": [pods.watch]}
        fatal = fatal_states(pods.items)
        if fatal:
            return Verdict(False, expected, fatal[0], detail="\n".join(fatal), fail_fast=True,
                           data=data)
        live = [p for p in pods.items if not p["metadata"].get("deletionTimestamp")]
        headline, detail = _count(live), ""
    ready = [p for p in live if _ready(p)]
    passed = len(live) >= params.min and len(ready) == len(live)
    return Verdict(passed, expected, _count(live) if passed else headline, detail=detail,
                   data=data)


def _count(live: list[Json]) -> str:
    return f"{sum(1 for p in live if _ready(p))} of {len(live)} pod(s) Ready"


def fatal_states(pods: list[Json]) -> list[str]:
    """'pod api-1 container api: ImagePullBackOff: Back-off pulling image …' for each."""
    found = []
    for pod in pods:
        status = pod.get("status") or {}
        statuses = (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or [])
        for container in statuses:
            waiting_state = (container.get("state") or {}).get("waiting") or {}
            reason = waiting_state.get("reason")
            if reason in FATAL_REASONS:
                message = waiting_state.get("message", "")
                found.append(f"pod {pod['metadata']['name']} container {container.get('name')}: "
                             f"{reason}" + (f": {message}" if message else ""))
    return found


def _ready(pod: Json) -> bool:
    ready = objects.condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


async def _pods(client: KubeClient, namespace: str, selector: str) -> objects.Listing:
    resource = await client.find_kind("Pod", "v1")
    return await objects.list_objects(client, resource, namespace, label_selector=selector)


async def _diagnose_pods(params: PodsParams, ctx: ProbeContext) -> str:
    if params.workload:
        return await diagnostics.for_workload(params.workload, params.namespace, ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    return await diagnostics.for_selector(namespace, str(params.selector), ctx)


PROBES = [
    cluster_probe("k8s.rollout", RolloutParams, check_rollout,
              "a Deployment/StatefulSet/DaemonSet is rolled out (kubectl rollout status)",
              wait=waiting.wait, diagnose=diagnostics.for_object),
    cluster_probe("k8s.pods", PodsParams, check_pods,
              "pods of a workload's current revision or matching a selector are Ready; fails "
              "fast on refused pod creation, pull errors and crash loops",
              wait=waiting.wait, diagnose=_diagnose_pods),
]
