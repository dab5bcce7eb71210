"""Parsing the API server's apply-conflict Status into (field, manager) records."""

from __future__ import annotations

from phasegate.kube import conflicts

# As the sandbox's kube-apiserver answered a non-forced apply of an HPA-scaled Deployment.
HPA = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
       "message": 'Apply failed with 1 conflict: conflict with "kube-controller-manager" with '
                  'subresource "scale" using apps/v1: .spec.replicas',
       "details": {"causes": [{
           "reason": "FieldManagerConflict", "field": ".spec.replicas",
           "message": 'conflict with "kube-controller-manager" with subresource "scale" '
                      "using apps/v1"}]},
       "code": 409}


def test_an_hpa_conflict_names_the_field_and_its_manager() -> None:
    assert conflicts.parse(HPA) == (
        conflicts.Conflict("spec.replicas", "kube-controller-manager", "scale", "apps/v1"),)
    assert conflicts.describe(conflicts.parse(HPA)) == (
        "spec.replicas (owned by kube-controller-manager (via scale))")


def test_managers_are_unquoted_and_other_causes_ignored() -> None:
    status = {"details": {"causes": [
        {"reason": "FieldManagerConflict", "field": '.spec.containers[name="c"].image',
         "message": r'conflict with "team \"a\"" using v1 at 2026-12-01T00:00:00Z'},
        {"reason": "FieldManagerConflict", "field": ".data.x", "message": 'conflict with "b"'},
        {"reason": "FieldValueInvalid", "field": ".spec", "message": "nope"}]}}
    assert conflicts.parse(status) == (
        conflicts.Conflict('spec.containers[name="c"].image', 'team "a"', "", "v1"),
        conflicts.Conflict("data.x", "b"))


def test_a_status_without_field_manager_causes_has_no_conflicts() -> None:
    assert conflicts.parse({"reason": "Conflict", "message": "the object has been modified",
                            "code": 409}) == ()
    assert conflicts.parse("not a status") == ()
