"""Is this object ready? The kstatus rules (sigs.k8s.io/cli-utils/pkg/kstatus), as plain logic.

Every object gets one of five statuses: ``Current`` (reconciled and ready), ``InProgress``
(not yet), ``Failed`` (waiting will not help), ``Terminating`` (being deleted) or
``NotFound``. The generic rules come first, for every kind: a deletionTimestamp is
Terminating; ``status.observedGeneration`` behind ``metadata.generation`` is InProgress
(the controller has not seen the current spec); a ``Reconciling=True`` condition is
InProgress and ``Stalled=True`` is Failed. Then the rule of the object's kind, if it has
one; then, for other kinds, a ``Ready`` condition of the current generation; with none of
these the object is Current (kstatus's rule: nothing says otherwise).

Where phasegate is stricter than kstatus, because a gate that passes must mean "ready":
a Job is Current once it is Complete (kstatus: once it started), a Pod that ended Failed
is Failed (kstatus: Current, "completed"), a Pod whose container cannot start (image pull
errors, bad config, crash loops) is Failed (kstatus: crash loops only), and a LoadBalancer
Service is Current once the load balancer reports an ingress (kstatus: once it has a
cluster IP). Each result names the rule that decided, for the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from phasegate.kube import quantity

Json = dict[str, Any]
Status = Literal["Current", "InProgress", "Failed", "Terminating", "NotFound"]

# Container states a pod cannot leave by waiting (kstatus knows CrashLoopBackOff only)
FATAL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff",
                           "CreateContainerConfigError", "InvalidImageName",
                           "CreateContainerError", "RunContainerError"})
# kstatus gives a pending pod this long to be scheduled before Unschedulable is Failed
SCHEDULE_WINDOW = timedelta(seconds=15)
NO_DEADLINE = 2**31 - 1
ALWAYS_READY = frozenset({"Secret", "ConfigMap", "batch/CronJob"})


@dataclass(frozen=True)
class Result:
    status: Status
    rule: str  # which rule decided: "generic: Stalled", "Deployment", "Ready condition", …
    reason: str  # CamelCase, as kstatus names it: LessAvailable, ProgressDeadlineExceeded
    message: str

    @property
    def current(self) -> bool:
        return self.status == "Current"


def not_found() -> Result:
    return Result("NotFound", "generic: not found", "NotFound", "the object does not exist")


def compute(obj: Json, now: datetime | None = None) -> Result:
    """The status of one object as listed (with its status)."""
    found = _generic(obj)
    if found is not None:
        return found
    rule = _KIND_RULES.get(_group_kind(obj))
    if rule is not None:
        return rule(obj, now or datetime.now(UTC))
    if _group_kind(obj) in ALWAYS_READY:
        return Result("Current", _group_kind(obj), "AlwaysReady", "has no status to wait for")
    ready = condition(obj, "Ready")
    if ready is not None:
        return _ready_condition(obj, ready)
    return Result("Current", "generic: no conditions", "Current",
                  "no generation behind, no Reconciling, Stalled or Ready condition")


def condition(obj: Json, kind: str) -> Json | None:
    status = obj.get("status")
    found = status.get("conditions") if isinstance(status, dict) else None
    for entry in found or []:
        if isinstance(entry, dict) and entry.get("type") == kind:
            return entry
    return None


def _generic(obj: Json) -> Result | None:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Result("Terminating", "generic: deletionTimestamp", "Terminating",
                      "scheduled for deletion")
    status = _status(obj)
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed != generation:
        return _progress("generic: observedGeneration", "LatestGenerationNotObserved",
                         f"generation is {generation}, but latest observed generation is "
                         f"{observed}")
    for entry in status.get("conditions") or []:  # the first of them decides, as in kstatus
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in ("Reconciling", "Stalled") and entry.get("status") == "True":
            verdict: Status = "InProgress" if kind == "Reconciling" else "Failed"
            return Result(verdict, f"generic: {kind}", str(entry.get("reason") or kind),
                          str(entry.get("message") or f"{kind}=True"))
    return None


def _ready_condition(obj: Json, ready: Json) -> Result:
    # a Ready condition of an older generation says nothing about the current spec
    generation, seen = obj["metadata"].get("generation"), ready.get("observedGeneration")
    reason, message = str(ready.get("reason") or ""), str(ready.get("message") or "")
    if isinstance(generation, int) and isinstance(seen, int) and seen < generation:
        return _progress("Ready condition", "LatestGenerationNotObserved",
                         f"Ready is of generation {seen}, the object's is {generation}")
    if ready.get("status") == "True":
        return Result("Current", "Ready condition", reason or "Ready", message or "Ready=True")
    return _progress("Ready condition", reason or "NotReady",
                     message or f"Ready={ready.get('status')}")


def _progress(rule: str, reason: str, message: str) -> Result:
    return Result("InProgress", rule, reason, message)


def _status(obj: Json) -> Json:
    found = obj.get("status")
    return found if isinstance(found, dict) else {}


def _group_kind(obj: Json) -> str:
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    return f"{group}/{obj.get('kind')}" if group else str(obj.get("kind"))


def _int(obj: Json, path: str, default: int) -> int:
    value: Any = obj
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(obj: Json, path: str, default: str = "") -> str:
    value: Any = obj
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else default


def _counts(rule: str, checks: list[tuple[int, int, str, str]]) -> Result | None:
    """The first (want, have, reason, label) where have falls short of want, in order:
    kstatus's order, so the same object gets the same reason."""
    for want, have, reason, label in checks:
        if want > have:
            return _progress(rule, reason, f"{label}: {have}/{want}")
    return None


def _extra(rule: str, replicas: int, spec: int) -> Result | None:
    if replicas > spec:
        return _progress(rule, "ExtraPods", f"Pending termination: {replicas - spec}")
    return None


def _deployment(obj: Json, now: datetime) -> Result:
    rule = "Deployment"
    # without a progress deadline the controller never sets Progressing (kstatus: MaxInt32)
    progressing = _int(obj, "spec.progressDeadlineSeconds", NO_DEADLINE) == NO_DEADLINE
    available = False
    for entry in _status(obj).get("conditions") or []:
        if entry.get("type") == "Progressing":
            if entry.get("reason") == "ProgressDeadlineExceeded":
                return Result("Failed", rule, "ProgressDeadlineExceeded",
                              str(entry.get("message") or "progress deadline exceeded"))
            if entry.get("status") == "True" and entry.get("reason") == "NewReplicaSetAvailable":
                progressing = True
        elif entry.get("type") == "Available" and entry.get("status") == "True":
            available = True
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas", 0)
    updated = _int(obj, "status.updatedReplicas", 0)
    found = _counts(rule, [(spec, replicas, "LessReplicas", "Replicas"),
                           (spec, updated, "LessUpdated", "Updated")]) or _extra(
        rule, replicas, spec) or _counts(rule, [
            (updated, _int(obj, "status.availableReplicas", 0), "LessAvailable", "Available"),
            (spec, _int(obj, "status.readyReplicas", 0), "LessReady", "Ready")])
    if found is not None:
        return found
    if not progressing:
        return _progress(rule, "ReplicaSetNotAvailable", "ReplicaSet not Available")
    if not available:
        return _progress(rule, "DeploymentNotAvailable", "Deployment not Available")
    return Result("Current", rule, "Available", f"Deployment is available. Replicas: {replicas}")


def _replica_set(obj: Json, now: datetime) -> Result:
    rule = "ReplicaSet"
    failure = condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return _progress(rule, "ReplicaFailure", str(failure.get("message") or
                                                     "Replica Failure condition. Check Pods"))
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas", 0)
    found = _counts(rule, [
        (spec, _int(obj, "status.fullyLabeledReplicas", 0), "LessLabelled", "Labelled"),
        (spec, _int(obj, "status.availableReplicas", 0), "LessAvailable", "Available"),
        (spec, _int(obj, "status.readyReplicas", 0), "LessReady", "Ready"),
    ]) or _extra(rule, replicas, spec)
    return found or Result("Current", rule, "Available",
                           f"ReplicaSet is available. Replicas: {replicas}")


def _stateful_set(obj: Json, now: datetime) -> Result:
    rule = "StatefulSet"
    if _str(obj, "spec.updateStrategy.type") == "OnDelete":
        return Result("Current", rule, "OnDelete", "uses the OnDelete update strategy")
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas", 0)
    updated = _int(obj, "status.updatedReplicas", 0)
    partition = _int(obj, "spec.updateStrategy.rollingUpdate.partition", -1)
    found = _counts(rule, [(spec, replicas, "LessReplicas", "Replicas"),
                           (spec, _int(obj, "status.readyReplicas", 0), "LessReady", "Ready"),
                           ]) or _extra(rule, replicas, spec)
    if found is not None:
        return found
    if partition != -1:
        if updated < spec - partition:
            return _progress(rule, "PartitionRollout", f"updated: {updated}/{spec - partition}")
        return Result("Current", rule, "PartitionRolledOut",
                      f"Partition rollout complete. updated: {updated}")
    found = _counts(rule, [(spec, _int(obj, "status.currentReplicas", 0), "LessCurrent",
                            "current")])
    if found is not None:
        return found
    if _str(obj, "status.currentRevision") != _str(obj, "status.updateRevision"):
        return _progress(rule, "RevisionMismatch", "Waiting for updated revision to match current")
    return Result("Current", rule, "AllReplicas",
                  f"All replicas scheduled as expected. Replicas: {replicas}")


def _daemon_set(obj: Json, now: datetime) -> Result:
    rule = "DaemonSet"
    status = _status(obj)
    # the controller always writes these once it acted: missing means it has not yet
    if not isinstance((obj.get("metadata") or {}).get("generation"), int):
        return _progress(rule, "NoGeneration", "metadata.generation not found")
    if not isinstance(status.get("observedGeneration"), int):
        return _progress(rule, "NoObservedGeneration", "status.observedGeneration not found")
    desired = _int(obj, "status.desiredNumberScheduled", -1)
    if desired == -1:
        return _progress(rule, "NoDesiredNumber", "Missing .status.desiredNumberScheduled")
    found = _counts(rule, [
        (desired, _int(obj, "status.currentNumberScheduled", 0), "LessCurrent", "Current"),
        (desired, _int(obj, "status.updatedNumberScheduled", 0), "LessUpdated", "Updated"),
        (desired, _int(obj, "status.numberAvailable", 0), "LessAvailable", "Available"),
        (desired, _int(obj, "status.numberReady", 0), "LessReady", "Ready")])
    return found or Result("Current", rule, "AllScheduled",
                           f"All replicas scheduled as expected. Replicas: {desired}")


def _job(obj: Json, now: datetime) -> Result:
    rule = "Job"
    completions = _int(obj, "spec.completions", _int(obj, "spec.parallelism", 1))
    succeeded, failed = _int(obj, "status.succeeded", 0), _int(obj, "status.failed", 0)
    for entry in _status(obj).get("conditions") or []:
        if entry.get("status") != "True":
            continue
        if entry.get("type") == "Complete":
            return Result("Current", rule, "Complete",
                          f"Job Completed. succeeded: {succeeded}/{completions}")
        if entry.get("type") == "Failed":
            why = ": ".join(str(p) for p in (entry.get("reason"), entry.get("message")) if p)
            return Result("Failed", rule, str(entry.get("reason") or "JobFailed"),
                          f"Job Failed. failed: {failed}/{completions}"
                          + (f" ({why})" if why else ""))
        if entry.get("type") == "Suspended":
            return Result("Current", rule, "Suspended", "Job is suspended")
    if not _str(obj, "status.startTime"):
        return _progress(rule, "JobNotStarted", "Job not started")
    return _progress(rule, "JobRunning", f"Job in progress. succeeded: {succeeded}/"
                     f"{completions}, active: {_int(obj, 'status.active', 0)}, failed: {failed}")


def _pvc(obj: Json, now: datetime) -> Result:
    phase = _str(obj, "status.phase", "unknown")
    if phase != "Bound":
        return _progress("PersistentVolumeClaim", "NotBound", f"PVC is not Bound. phase: {phase}")
    return Result("Current", "PersistentVolumeClaim", "Bound", "PVC is Bound")


def _service(obj: Json, now: datetime) -> Result:
    rule = "Service"
    kind = _str(obj, "spec.type", "ClusterIP")
    if kind != "LoadBalancer":
        return Result("Current", rule, "Ready", f"Service is ready (type {kind})")
    if not _str(obj, "spec.clusterIP"):
        return _progress(rule, "NoIPAssigned", "ClusterIP not set. Service type: LoadBalancer")
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return _progress(rule, "NoIngress", "the load balancer reports no ingress yet")
    points = [str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)]
    return Result("Current", rule, "Ready", f"load balancer ingress: {', '.join(points)}")


def _pod(obj: Json, now: datetime) -> Result:
    rule = "Pod"
    phase = _str(obj, "status.phase")
    if phase == "Succeeded":
        return Result("Current", rule, "PodSucceeded", "Pod has completed successfully")
    if phase == "Failed":
        return Result("Failed", rule, "PodFailed", "Pod has completed, but not successfully"
                      + (f": {_str(obj, 'status.message')}" if _str(obj, "status.message")
                         else ""))
    fatal = fatal_states(obj)
    if phase == "Running":
        ready = condition(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return Result("Current", rule, "PodReady", "Pod is Ready")
        if fatal:
            return Result("Failed", rule, fatal[0][0], "; ".join(m for _, m in fatal))
        return _progress(rule, "PodRunningNotReady", "Pod is running but is not Ready")
    if phase == "Pending":
        if fatal:
            return Result("Failed", rule, fatal[0][0], "; ".join(m for _, m in fatal))
        scheduled = condition(obj, "PodScheduled")
        if scheduled is not None and scheduled.get("status") == "False" and \
                scheduled.get("reason") == "Unschedulable":
            created = _timestamp(_str(obj, "metadata.creationTimestamp"))
            if created is not None and now - created < SCHEDULE_WINDOW:
                return _progress(rule, "PodNotScheduled", "Pod has not been scheduled")
            return Result("Failed", rule, "PodUnschedulable", "Pod could not be scheduled: "
                          + str(scheduled.get("message") or ""))
        return _progress(rule, "PodPending", "Pod is in the Pending phase")
    return _progress(rule, "PodNotObserved", f"Pod phase {phase or 'not available'}")


def fatal_states(pod: Json) -> list[tuple[str, str]]:
    """(reason, "container api: ImagePullBackOff: …") for each container that cannot start."""
    status = _status(pod)
    found = []
    for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []):
        waiting = ((container or {}).get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_REASONS:
            message = waiting.get("message")
            found.append((str(reason), f"container {container.get('name')}: {reason}"
                          + (f": {message}" if message else "")))
    return found


def _crd(obj: Json, now: datetime) -> Result:
    rule = "CustomResourceDefinition"
    for entry in _status(obj).get("conditions") or []:
        reason, message = str(entry.get("reason") or ""), str(entry.get("message") or "")
        if entry.get("type") == "NamesAccepted" and entry.get("status") == "False":
            return Result("Failed", rule, reason or "NamesNotAccepted", message)
        if entry.get("type") == "Established":
            if entry.get("status") == "False" and reason != "Installing":
                return Result("Failed", rule, reason or "NotEstablished", message)
            if entry.get("status") == "True":
                return Result("Current", rule, "Established", "CRD is established")
    return _progress(rule, "Installing", "Install in progress")


def _pdb(obj: Json, now: datetime) -> Result:
    # the generic observedGeneration rule already ran: the controller has seen this spec
    return Result("Current", "PodDisruptionBudget", "AllowedDisruptionsComputed",
                  "AllowedDisruptions has been computed")


def _resource_quota(obj: Json, now: datetime) -> Result:
    # Admission counts against a quota only once its controller wrote status.hard (before,
    # a create in a namespace the API server's cache has no quota for yet is let through):
    # a quota is in force when status.hard holds every limit of its spec.
    rule = "ResourceQuota"
    wanted = (obj.get("spec") or {}).get("hard") or {}
    computed = _status(obj).get("hard") or {}
    behind = sorted(name for name, value in wanted.items()
                    if name not in computed or not _same_quantity(computed[name], value))
    if behind:
        return _progress(rule, "NotComputed", "the quota controller has not computed "
                         f"{', '.join(behind)} yet")
    return Result("Current", rule, "Computed", "the quota's limits are in force")


def _same_quantity(a: object, b: object) -> bool:
    try:
        return quantity.parse(a) == quantity.parse(b)
    except ValueError:
        return str(a) == str(b)


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


_KIND_RULES = {
    "Service": _service, "Pod": _pod, "PersistentVolumeClaim": _pvc,
    "apps/StatefulSet": _stateful_set, "apps/DaemonSet": _daemon_set,
    "apps/Deployment": _deployment, "apps/ReplicaSet": _replica_set,
    "policy/PodDisruptionBudget": _pdb, "batch/Job": _job,
    "apiextensions.k8s.io/CustomResourceDefinition": _crd, "ResourceQuota": _resource_quota,
}
