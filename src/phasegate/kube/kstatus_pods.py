"""A workload that is not Current yet may never be: its pods say so. Plain logic over lists.

kstatus judges a Deployment by its counts only, so a Deployment whose image cannot be pulled
stays InProgress until its progress deadline (10 minutes by default). Its pods know at once:
a current-revision pod in ``ImagePullBackOff`` or ``CrashLoopBackOff`` will not become ready
by waiting. Only pods of the revision being rolled out count (a fix rolled out over
crash-looping pods must wait for the fix), and terminating pods never count.
"""

from __future__ import annotations

from phasegate.kube import kstatus

Json = kstatus.Json
WORKLOADS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"})
REVISION = "deployment.kubernetes.io/revision"
DAEMON_GENERATION = "deprecated.daemonset.template.generation"


def judge(workload: Json, pods: list[Json], replica_sets: list[Json]) -> kstatus.Result | None:
    """Failed, when a pod of the workload's current revision cannot start; else None."""
    found = []
    for pod in current(workload, pods, replica_sets):
        found += [(reason, f"pod {pod['metadata'].get('name')} {text}")
                  for reason, text in kstatus.fatal_states(pod)]
    if not found:
        return None
    return kstatus.Result("Failed", f"{workload.get('kind')}: pods of the current revision",
                          found[0][0], "; ".join(text for _, text in found))


def current(workload: Json, pods: list[Json], replica_sets: list[Json]) -> list[Json]:
    """The live pods of the revision ``workload`` rolls out now."""
    kind = workload.get("kind")
    if kind == "Deployment":
        owned = sorted(controlled_by(workload, replica_sets), key=_revision)
        return controlled_by(owned[-1], pods) if owned else []
    mine = controlled_by(workload, pods)
    if kind == "StatefulSet":
        wanted = (workload.get("status") or {}).get("updateRevision")
        return [p for p in mine if wanted and _label(p, "controller-revision-hash") == wanted]
    if kind == "DaemonSet":
        wanted = (workload["metadata"].get("annotations") or {}).get(DAEMON_GENERATION)
        return [p for p in mine if wanted is None
                or _label(p, "pod-template-generation") == str(wanted)]
    return mine  # a ReplicaSet's or a Job's pods are all of its one revision


def controlled_by(owner: Json, items: list[Json]) -> list[Json]:
    uid = owner["metadata"].get("uid")
    return [item for item in items if not item["metadata"].get("deletionTimestamp")
            and any(ref.get("uid") == uid and ref.get("controller")
                    for ref in item["metadata"].get("ownerReferences") or [])]


def _revision(replica_set: Json) -> int:
    value = str((replica_set["metadata"].get("annotations") or {}).get(REVISION, "0"))
    return int(value) if value.isdigit() else 0


def _label(obj: Json, key: str) -> str | None:
    found = (obj["metadata"].get("labels") or {}).get(key)
    return str(found) if found is not None else None
