"""The kstatus rules over objects shaped like the ones the API server returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phasegate.kube import kstatus, kstatus_pods

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
Json = dict[str, Any]


def obj(api_version: str, kind: str, *, generation: int | None = 1, spec: Json | None = None,
        status: Json | None = None, **meta: Any) -> Json:
    metadata: Json = {"name": "x", "namespace": "shop", "uid": f"uid-{kind}", **meta}
    if generation is not None:
        metadata["generation"] = generation
    found: Json = {"apiVersion": api_version, "kind": kind, "metadata": metadata,
                   "spec": spec or {}}
    if status is not None:
        found["status"] = status
    return found


def cond(kind: str, status: str = "True", reason: str = "", message: str = "",
         **more: Any) -> Json:
    return {"type": kind, "status": status, "reason": reason, "message": message, **more}


def deployment(wanted: int = 2, **status: Any) -> Json:
    full = {"observedGeneration": 1, "replicas": wanted, "updatedReplicas": wanted,
            "readyReplicas": wanted, "availableReplicas": wanted,
            "conditions": [cond("Available", reason="MinimumReplicasAvailable"),
                           cond("Progressing", reason="NewReplicaSetAvailable")]}
    full.update(status)
    return obj("apps/v1", "Deployment", spec={"replicas": wanted,
                                              "progressDeadlineSeconds": 600}, status=full)


def test_generic_rules_come_first_for_every_kind() -> None:
    gone = deployment() | {"metadata": {"name": "x", "generation": 1,
                                        "deletionTimestamp": "2026-12-02T03:59:00Z"}}
    assert kstatus.compute(gone, NOW).status == "Terminating"
    stale = deployment(observedGeneration=1)
    stale["metadata"]["generation"] = 2
    result = kstatus.compute(stale, NOW)
    assert (result.status, result.rule, result.reason) == (
        "InProgress", "generic: observedGeneration", "LatestGenerationNotObserved")
    assert "generation is 2, but latest observed generation is 1" in result.message
    stalled = obj("example.com/v1", "Widget", status={"observedGeneration": 1, "conditions": [
        cond("Ready", "False"), cond("Stalled", reason="BadConfig", message="no such bucket")]})
    result = kstatus.compute(stalled, NOW)
    assert (result.status, result.rule, result.reason, result.message) == (
        "Failed", "generic: Stalled", "BadConfig", "no such bucket")
    reconciling = obj("example.com/v1", "Widget", status={"conditions": [
        cond("Reconciling", reason="Progressing", message="creating bucket"),
        cond("Stalled", reason="Late")]})
    result = kstatus.compute(reconciling, NOW)  # the first of the two decides, as in kstatus
    assert (result.status, result.rule, result.message) == (
        "InProgress", "generic: Reconciling", "creating bucket")
    # False conditions say nothing abnormal ("abnormal-true" convention)
    calm = obj("example.com/v1", "Widget", status={"conditions": [
        cond("Reconciling", "False"), cond("Stalled", "False")]})
    assert kstatus.compute(calm, NOW).status == "Current"


def test_a_ready_condition_decides_for_kinds_without_a_rule_but_only_if_current() -> None:
    ready = obj("example.com/v1", "Widget", status={"conditions": [
        cond("Ready", reason="Provisioned", message="bucket ready")]})
    result = kstatus.compute(ready, NOW)
    assert (result.status, result.rule, result.message) == (
        "Current", "Ready condition", "bucket ready")
    waiting = obj("example.com/v1", "Widget", status={"conditions": [
        cond("Ready", "False", reason="Provisioning", message="creating")]})
    result = kstatus.compute(waiting, NOW)
    assert (result.status, result.reason) == ("InProgress", "Provisioning")
    old = obj("example.com/v1", "Widget", generation=3, status={"conditions": [
        cond("Ready", observedGeneration=2)]})
    result = kstatus.compute(old, NOW)
    assert result.status == "InProgress" and "generation 2" in result.message
    assert kstatus.compute(obj("example.com/v1", "Widget"), NOW).rule == "generic: no conditions"
    assert kstatus.compute(obj("v1", "ConfigMap", generation=None), NOW).status == "Current"
    assert kstatus.compute(obj("v1", "Secret", generation=None), NOW).rule == "Secret"


def test_deployment_counts_then_conditions_then_deadline() -> None:
    result = kstatus.compute(deployment(), NOW)
    assert (result.status, result.rule, result.message) == (
        "Current", "Deployment", "Deployment is available. Replicas: 2")
    cases = [
        (dict(replicas=1, updatedReplicas=1), "LessReplicas", "Replicas: 1/2"),
        (dict(updatedReplicas=1), "LessUpdated", "Updated: 1/2"),
        (dict(replicas=3), "ExtraPods", "Pending termination: 1"),
        (dict(availableReplicas=0), "LessAvailable", "Available: 0/2"),
        (dict(readyReplicas=1), "LessReady", "Ready: 1/2"),
        (dict(conditions=[cond("Available"), cond("Progressing", reason="ReplicaSetUpdated")]),
         "ReplicaSetNotAvailable", "ReplicaSet not Available"),
        (dict(conditions=[cond("Available", "False"),
                          cond("Progressing", reason="NewReplicaSetAvailable")]),
         "DeploymentNotAvailable", "Deployment not Available"),
    ]
    for status, reason, message in cases:
        result = kstatus.compute(deployment(**status), NOW)
        assert (result.status, result.reason, result.message) == ("InProgress", reason, message)
    deadline = deployment(availableReplicas=0, conditions=[cond(
        "Progressing", "False", "ProgressDeadlineExceeded",
        'ReplicaSet "x-5d8f" has timed out progressing.')])
    result = kstatus.compute(deadline, NOW)
    assert (result.status, result.reason) == ("Failed", "ProgressDeadlineExceeded")
    assert "timed out progressing" in result.message
    fresh = obj("apps/v1", "Deployment", spec={"replicas": 1}, status={})
    assert kstatus.compute(fresh, NOW).reason == "LessReplicas"  # no status yet: not ready


def test_deployment_without_a_progress_deadline_needs_no_progressing_condition() -> None:
    found = deployment(conditions=[cond("Available")])
    found["spec"].pop("progressDeadlineSeconds")
    assert kstatus.compute(found, NOW).status == "Current"


def test_replica_set() -> None:
    status = {"observedGeneration": 1, "replicas": 2, "fullyLabeledReplicas": 2,
              "readyReplicas": 2, "availableReplicas": 2}
    ok = obj("apps/v1", "ReplicaSet", spec={"replicas": 2}, status=status)
    assert kstatus.compute(ok, NOW).status == "Current"
    refused = obj("apps/v1", "ReplicaSet", spec={"replicas": 2}, status={
        **status, "conditions": [cond("ReplicaFailure", reason="FailedCreate",
                                      message="exceeded quota")]})
    result = kstatus.compute(refused, NOW)
    assert (result.status, result.reason, result.message) == (
        "InProgress", "ReplicaFailure", "exceeded quota")
    short = obj("apps/v1", "ReplicaSet", spec={"replicas": 2}, status={**status,
                                                                      "availableReplicas": 1})
    assert kstatus.compute(short, NOW).message == "Available: 1/2"


def sts(spec: Json | None = None, **status: Any) -> Json:
    full = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
            "updatedReplicas": 3, "currentRevision": "db-7f", "updateRevision": "db-7f"}
    full.update(status)
    return obj("apps/v1", "StatefulSet", spec={"replicas": 3, **(spec or {})}, status=full)


def test_stateful_set_replicas_partition_and_revisions() -> None:
    assert kstatus.compute(sts(), NOW).message == "All replicas scheduled as expected. Replicas: 3"
    assert kstatus.compute(sts(readyReplicas=2), NOW).message == "Ready: 2/3"
    assert kstatus.compute(sts(replicas=2), NOW).reason == "LessReplicas"
    assert kstatus.compute(sts(currentReplicas=1), NOW).reason == "LessCurrent"
    rolling = sts(updateRevision="db-8a", currentReplicas=3, updatedReplicas=1)
    assert kstatus.compute(rolling, NOW).reason == "RevisionMismatch"
    partitioned = {"updateStrategy": {"type": "RollingUpdate",
                                      "rollingUpdate": {"partition": 2}}}
    result = kstatus.compute(sts(partitioned, updatedReplicas=0, updateRevision="db-8a"), NOW)
    assert (result.reason, result.message) == ("PartitionRollout", "updated: 0/1")
    result = kstatus.compute(sts(partitioned, updatedReplicas=1, updateRevision="db-8a"), NOW)
    assert result.status == "Current" and result.reason == "PartitionRolledOut"
    on_delete = sts({"updateStrategy": {"type": "OnDelete"}}, readyReplicas=0)
    assert kstatus.compute(on_delete, NOW).reason == "OnDelete"


def test_daemon_set_needs_its_generations_and_counts() -> None:
    status = {"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
              "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 2}
    assert kstatus.compute(obj("apps/v1", "DaemonSet", status=status), NOW).status == "Current"
    unseen = obj("apps/v1", "DaemonSet", status={})
    assert kstatus.compute(unseen, NOW).reason == "NoObservedGeneration"
    no_desired = obj("apps/v1", "DaemonSet", status={"observedGeneration": 1})
    assert kstatus.compute(no_desired, NOW).reason == "NoDesiredNumber"
    for field, reason in (("currentNumberScheduled", "LessCurrent"),
                          ("updatedNumberScheduled", "LessUpdated"),
                          ("numberAvailable", "LessAvailable"), ("numberReady", "LessReady")):
        short = obj("apps/v1", "DaemonSet", status={**status, field: 1})
        assert kstatus.compute(short, NOW).reason == reason


def job(*conditions: Json, **status: Any) -> Json:
    return obj("batch/v1", "Job", spec={"completions": 1, "parallelism": 1},
               status={**status, "conditions": list(conditions)})


def test_job_is_current_once_complete_and_failed_when_it_failed() -> None:
    assert kstatus.compute(job(), NOW).reason == "JobNotStarted"
    running = kstatus.compute(job(startTime="2026-12-02T03:59:00Z", active=1), NOW)
    assert (running.status, running.reason) == ("InProgress", "JobRunning")  # kstatus: Current
    done = kstatus.compute(job(cond("Complete"), succeeded=1), NOW)
    assert (done.status, done.message) == ("Current", "Job Completed. succeeded: 1/1")
    failed = kstatus.compute(job(cond("Failed", reason="BackoffLimitExceeded",
                                      message="Job has reached the specified backoff limit"),
                                 failed=2), NOW)
    assert (failed.status, failed.rule, failed.reason) == ("Failed", "Job",
                                                           "BackoffLimitExceeded")
    assert "failed: 2/1" in failed.message and "backoff limit" in failed.message
    suspended = kstatus.compute(job(cond("Suspended")), NOW)
    assert suspended.status == "Current"


def test_pvc_service_crd_and_pdb() -> None:
    pending = obj("v1", "PersistentVolumeClaim", generation=None, status={"phase": "Pending"})
    assert kstatus.compute(pending, NOW).message == "PVC is not Bound. phase: Pending"
    bound = obj("v1", "PersistentVolumeClaim", generation=None, status={"phase": "Bound"})
    assert kstatus.compute(bound, NOW).status == "Current"
    cluster_ip = obj("v1", "Service", generation=None, spec={"type": "ClusterIP",
                                                             "clusterIP": "10.0.0.7"})
    assert kstatus.compute(cluster_ip, NOW).status == "Current"
    balancer = obj("v1", "Service", generation=None, spec={"type": "LoadBalancer",
                                                           "clusterIP": "10.0.0.8"},
                   status={"loadBalancer": {}})
    result = kstatus.compute(balancer, NOW)
    assert (result.status, result.reason) == ("InProgress", "NoIngress")
    balancer["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
    result = kstatus.compute(balancer, NOW)
    assert result.status == "Current" and "192.0.2.10" in result.message
    crd = obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", generation=None,
              status={"conditions": [cond("NamesAccepted"), cond("Established")]})
    assert kstatus.compute(crd, NOW).message == "CRD is established"
    installing = obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", generation=None,
                     status={"conditions": [cond("Established", "False", "Installing")]})
    assert kstatus.compute(installing, NOW).status == "InProgress"
    clash = obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", generation=None,
                status={"conditions": [cond("NamesAccepted", "False", "MultipleNamesNotAllowed",
                                            '"widget" is already in use')]})
    result = kstatus.compute(clash, NOW)
    assert (result.status, result.reason) == ("Failed", "MultipleNamesNotAllowed")
    pdb = obj("policy/v1", "PodDisruptionBudget", generation=2,
              status={"observedGeneration": 2, "disruptionsAllowed": 1})
    assert kstatus.compute(pdb, NOW).status == "Current"
    pdb["status"]["observedGeneration"] = 1
    assert kstatus.compute(pdb, NOW).status == "InProgress"


def pod(phase: str, *conditions: Json, containers: list[Json] | None = None,
        created: datetime = NOW - timedelta(minutes=1), **meta: Any) -> Json:
    return obj("v1", "Pod", generation=None, creationTimestamp=created.isoformat(), **meta,
               status={"phase": phase, "conditions": list(conditions),
                       "containerStatuses": containers or []})


def waiting(reason: str, message: str = "") -> Json:
    return {"name": "app", "state": {"waiting": {"reason": reason, "message": message}}}


def test_pod_phases_readiness_and_containers_that_cannot_start() -> None:
    assert kstatus.compute(pod("Running", cond("Ready")), NOW).message == "Pod is Ready"
    assert kstatus.compute(pod("Running", cond("Ready", "False")), NOW).reason == \
        "PodRunningNotReady"
    assert kstatus.compute(pod("Succeeded"), NOW).status == "Current"
    assert kstatus.compute(pod("Failed"), NOW).status == "Failed"  # kstatus: Current
    crash = kstatus.compute(pod("Running", cond("Ready", "False"),
                                containers=[waiting("CrashLoopBackOff", "back-off 10s")]), NOW)
    assert (crash.status, crash.reason) == ("Failed", "CrashLoopBackOff")
    assert crash.message == "container app: CrashLoopBackOff: back-off 10s"
    pull = kstatus.compute(pod("Pending", containers=[waiting(
        "ImagePullBackOff", 'Back-off pulling image "nope:1"')]), NOW)
    assert (pull.status, pull.reason) == ("Failed", "ImagePullBackOff")
    assert kstatus.compute(pod("Pending"), NOW).reason == "PodPending"
    assert kstatus.compute(pod(""), NOW).reason == "PodNotObserved"
    unschedulable = cond("PodScheduled", "False", "Unschedulable", "0/3 nodes are available")
    young = pod("Pending", unschedulable, created=NOW - timedelta(seconds=5))
    assert kstatus.compute(young, NOW).reason == "PodNotScheduled"
    old = kstatus.compute(pod("Pending", unschedulable), NOW)
    assert (old.status, old.reason) == ("Failed", "PodUnschedulable")
    assert "0/3 nodes" in old.message


def owned(item: Json, owner: Json, name: str, **labels: str) -> Json:
    item["metadata"].update(name=name, labels=labels, ownerReferences=[
        {"uid": owner["metadata"]["uid"], "controller": True, "kind": owner["kind"]}])
    return item


def test_only_pods_of_the_current_revision_fail_a_workload() -> None:
    web = deployment(availableReplicas=0)
    old_rs = owned(obj("apps/v1", "ReplicaSet", uid="rs-1",
                       annotations={kstatus_pods.REVISION: "1"}), web, "web-1")
    new_rs = owned(obj("apps/v1", "ReplicaSet", uid="rs-2",
                       annotations={kstatus_pods.REVISION: "2"}), web, "web-2")
    crashing_old = owned(pod("Running", containers=[waiting("CrashLoopBackOff")]), old_rs,
                         "web-1-a")
    pulling_new = owned(pod("Pending", containers=[waiting("ImagePullBackOff", "not found")]),
                        new_rs, "web-2-a")
    assert kstatus_pods.judge(web, [crashing_old], [old_rs, new_rs]) is None
    result = kstatus_pods.judge(web, [crashing_old, pulling_new], [old_rs, new_rs])
    assert result is not None and result.status == "Failed"
    assert result.rule == "Deployment: pods of the current revision"
    assert result.message == "pod web-2-a container app: ImagePullBackOff: not found"
    leaving = owned(pod("Pending", containers=[waiting("ErrImagePull")],
                        deletionTimestamp="2026-12-02T03:59:00Z"), new_rs, "web-2-b")
    assert kstatus_pods.judge(web, [leaving], [old_rs, new_rs]) is None


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet", "Job", "ReplicaSet"])
def test_current_pods_of_other_workloads(kind: str) -> None:
    workload = obj("apps/v1" if kind != "Job" else "batch/v1", kind,
                   annotations={kstatus_pods.DAEMON_GENERATION: "2"},
                   status={"updateRevision": "db-8a"})
    new = owned(pod("Running"), workload, "new", **{"controller-revision-hash": "db-8a",
                                                    "pod-template-generation": "2"})
    old = owned(pod("Running"), workload, "old", **{"controller-revision-hash": "db-7f",
                                                    "pod-template-generation": "1"})
    stranger = pod("Running", name="stranger")
    names = [p["metadata"]["name"] for p in kstatus_pods.current(workload, [new, old,
                                                                            stranger], [])]
    assert names == (["new"] if kind in ("StatefulSet", "DaemonSet") else ["new", "old"])


def quota(hard: Json, computed: Json | None) -> Json:
    # a ResourceQuota has no generation in status: only the controller's status.hard says
    # it has been computed, and only then does admission count against it
    return obj("v1", "ResourceQuota", generation=0, spec={"hard": hard},
               status=None if computed is None else {"hard": computed, "used": {}})


@pytest.mark.parametrize(("computed", "status"), [
    (None, "InProgress"),
    ({}, "InProgress"),
    ({"count/deployments.apps": "2"}, "InProgress"),  # the old limit, before an update
    ({"count/deployments.apps": "3", "requests.cpu": "1500m"}, "Current"),
])
def test_a_quota_is_current_once_its_controller_computed_the_limits_of_its_spec(
    computed: Json | None, status: str
) -> None:
    found = kstatus.compute(quota({"count/deployments.apps": "3", "requests.cpu": "1.5"},
                                  computed), NOW)
    assert (found.status, found.rule) == (status, "ResourceQuota"), found
