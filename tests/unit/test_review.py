"""What an approval covers (workflow.review): status-only changes leave the hash alone, a
change by someone else is named by object and field, and a Secret's values never reach the
stored review."""

from __future__ import annotations

from pathlib import Path

from phasegate.plan.loader import loads_plan
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import review

PLAN = loads_plan("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: p}\n")
LIVE = {"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7", "generation": 2,
                     "managedFields": [{"manager": "phasegate"}]},
        "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "annotations": {
    "kubectl.kubernetes.io/last-applied-configuration": '{"data": {"pw": "aHVudGVyMg=="}}'}},
          "data": {"pw": "aHVudGVyMg=="}}


def _entries(deployment: dict[str, object]) -> list[review.Entry]:
    return [review.Entry("Deployment shop/web", "unchanged", [], [],
                         review.normalized(deployment)),
            review.Entry("Secret shop/db", "unchanged", [], [], review.normalized(SECRET))]


def test_status_and_server_metadata_leave_the_hash_alone() -> None:
    moved = {**LIVE, "metadata": {**LIVE["metadata"], "resourceVersion": "9"},  # type: ignore[dict-item]
             "status": {"readyReplicas": 0}}
    assert review.digest(PLAN, [], _entries(LIVE)) == review.digest(PLAN, [], _entries(moved))


def test_a_spec_change_is_named_and_secret_values_are_never_kept(tmp_path: Path) -> None:
    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("plan", plan_name="p")
    then = review.digest(PLAN, [SECRET], _entries(LIVE))
    review.record(store, run, then, PLAN, [SECRET], _entries(LIVE))
    edited = {**LIVE, "spec": {"replicas": 1, "paused": True}}
    now = review.digest(PLAN, [SECRET], _entries(edited))
    review.record(store, run, now, PLAN, [SECRET], _entries(edited))
    assert now != then
    assert review.what_changed(store, then, now) == (
        "Deployment shop/web: changed by someone else: spec.paused")
    kept = store.find_artifact(review.REVIEW + then) or ""
    assert "aHVudGVyMg==" not in kept and "pw" in kept
    assert "no plan preview with hash 0000" in review.what_changed(store, "0" * 16, now)
