"""A workload's current revision, as its controller sees it, and which pods belong to it.

``kubectl rollout status`` judges only the revision being rolled out; pods of older
revisions (crash-looping ones a fix replaces) and terminating pods are on their way out and
say nothing about it. Deployment: the owned ReplicaSet with the highest
``deployment.kubernetes.io/revision``, its pods by ``pod-template-hash``. StatefulSet:
``status.updateRevision``, its pods by ``controller-revision-hash``. DaemonSet: the owned
ControllerRevision with the highest ``revision``, its pods by that label. Job: no revisions,
all its pods are current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phasegate.kube import objects
from phasegate.kube.client import Json, KubeClient

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
KINDS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
         "Job": "batch/v1"}


@dataclass(frozen=True)
class Revision:
    """What a workload's pods are judged against. ``owner`` is None while the controller
    has not yet observed the current spec (no pod can be said to be current then)."""

    owner: Json | None  # the current ReplicaSet or ControllerRevision (the Job for a Job)
    owner_ref: str  # "ReplicaSet api-5d8f9c7b4", "revision db-6c5d", …
    current: list[Json] = field(default_factory=list)  # live pods of the current revision
    old: list[Json] = field(default_factory=list)  # live pods of older revisions
    terminating: list[Json] = field(default_factory=list)
    first: bool = True  # the workload's first revision: nothing older to tell apart
    watches: list[dict[str, Any]] = field(default_factory=list)


def selector(workload: Json) -> str | None:
    labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else None


async def current(client: KubeClient, namespace: str, workload: Json,
                  narrower: str | None = None) -> Revision:
    """The current revision of ``workload`` and its pods (``narrower``: a further selector)."""
    labels = ",".join(s for s in (selector(workload), narrower) if s)
    pods = await _list(client, "Pod", "v1", namespace, labels)
    watches = [pods.watch]
    kind = workload.get("kind")
    observed = (workload.get("status") or {}).get("observedGeneration", 0) >= (
        workload["metadata"].get("generation", 0))
    owner: Json | None = None
    owner_ref = "the current revision (not yet observed by the controller)"
    first = True
    belongs: Callable[[Json], bool]
    if kind == "Job":
        owner, owner_ref = workload, f"Job {workload['metadata']['name']}"
        belongs = _always
    elif kind == "Deployment":
        sets = await _list(client, "ReplicaSet", "apps/v1", namespace, selector(workload))
        watches.append(sets.watch)
        owned = sorted(_owned(sets.items, workload), key=_deployment_revision)
        if observed and owned:
            owner = owned[-1]
            owner_ref = f"ReplicaSet {owner['metadata']['name']}"
            first = len(owned) == 1
        belongs = _label_is("pod-template-hash", _label(owner, "pod-template-hash"))
    else:
        revisions = await _list(client, "ControllerRevision", "apps/v1", namespace,
                                selector(workload))
        watches.append(revisions.watch)
        owned = sorted(_owned(revisions.items, workload), key=lambda r: int(r.get("revision", 0)))
        wanted = (workload.get("status") or {}).get("updateRevision") if kind == "StatefulSet" \
            else (owned[-1]["metadata"]["name"] if owned else None)
        found = [r for r in owned if r["metadata"]["name"] == wanted]
        if observed and found:
            owner = found[0]
            owner_ref = f"revision {wanted}"
            first = int(owner.get("revision", 0)) <= 1
        belongs = _label_is("controller-revision-hash", _label(owner, "controller-revision-hash")
                            if kind == "DaemonSet" else (wanted if owner else None))
    revision = Revision(owner, owner_ref, first=first, watches=watches)
    for pod in pods.items:
        if pod["metadata"].get("deletionTimestamp"):
            revision.terminating.append(pod)
        elif owner is not None and belongs(pod):
            revision.current.append(pod)
        else:
            revision.old.append(pod)
    return revision


async def _list(client: KubeClient, kind: str, api_version: str, namespace: str,
                labels: str | None) -> objects.Listing:
    resource = await client.find_kind(kind, api_version)
    return await objects.list_objects(client, resource, namespace, label_selector=labels or None)


def _owned(items: list[Json], workload: Json) -> list[Json]:
    uid = workload["metadata"].get("uid")
    return [item for item in items
            if any(o.get("uid") == uid and o.get("controller")
                   for o in item["metadata"].get("ownerReferences") or [])]


def _deployment_revision(replica_set: Json) -> int:
    value = (replica_set["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    return int(value) if str(value).isdigit() else 0


def _label(obj: Json | None, key: str) -> str | None:
    return ((obj or {}).get("metadata", {}).get("labels") or {}).get(key)


def _always(pod: Json) -> bool:
    return True


def _label_is(key: str, value: str | None) -> Callable[[Json], bool]:
    def belongs(pod: Json) -> bool:
        return value is not None and (pod["metadata"].get("labels") or {}).get(key) == value
    return belongs
