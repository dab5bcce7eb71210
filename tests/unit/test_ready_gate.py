"""Which gate a phase runs after applying: its own, none (``gate: []``), or readiness."""

from __future__ import annotations

import pytest

from phasegate.errors import PlanError
from phasegate.plan import loader
from phasegate.workflow import ready_gate

PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: t}
phases:
  - {name: default, apply: a.yaml}
  - {name: none, apply: a.yaml, gate: []}
  - {name: own, apply: a.yaml, gate: [{k8s.exists: {kind: ConfigMap, name: c}}]}
  - {name: empty}
"""

JOURNAL = [
    {"ref": "Deployment shop/web", "action": "created", "apiVersion": "apps/v1",
     "kind": "Deployment", "name": "web", "namespace": "shop", "uid": "1", "previous": None},
    {"ref": "Deployment shop/web", "action": "unchanged", "apiVersion": "apps/v1",
     "kind": "Deployment", "name": "web", "namespace": "shop", "uid": "1"},  # after a resume
    {"ref": "ClusterRole reader", "action": "updated", "apiVersion":
     "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "reader", "namespace": None},
]


def test_a_phase_without_a_gate_is_gated_by_readiness_of_what_it_applied() -> None:
    default, none, own, empty = loader.loads_plan(PLAN, "plan.yaml").phases
    (call,) = ready_gate.phase_gate(default, JOURNAL)
    assert call.kind == "k8s.ready"
    assert call.params_dict == {"objects": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "name": "reader"}]}
    assert call.name == "k8s.ready 2 objects (1 Deployment, 1 ClusterRole)"
    assert ready_gate.phase_gate(none, JOURNAL) == []
    assert [c.kind for c in ready_gate.phase_gate(own, JOURNAL)] == ["k8s.exists"]
    assert ready_gate.phase_gate(default, []) == []  # nothing applied: nothing to wait for
    assert [ready_gate.described(p) for p in (default, none, own, empty)] == [
        [ready_gate.DEFAULT_NAME], [], ["k8s.exists ConfigMap c"], []]


def test_rendered_objects_are_references_too() -> None:
    rendered = [{"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "api", "namespace": "shop", "labels": {"a": "b"}},
                 "spec": {"ports": [{"port": 80}]}}]
    call = ready_gate.call_for(rendered)
    assert call is not None and call.params_dict == {"objects": [
        {"apiVersion": "v1", "kind": "Service", "name": "api", "namespace": "shop"}]}
    assert ready_gate.call_for([]) is None


def test_k8s_ready_names_one_object_or_a_list_never_both_nor_neither() -> None:
    for body, words in (("{}", "give kind and name, or objects"),
                        ("{kind: Deployment}", "give kind and name, or objects"),
                        ("{kind: Deployment, name: a, objects: [{kind: Service, name: b}]}",
                         "not both")):
        text = PLAN.replace("k8s.exists: {kind: ConfigMap, name: c}", f"k8s.ready: {body}")
        with pytest.raises(PlanError) as error:
            loader.loads_plan(text, "plan.yaml")
        assert words in str(error.value) and "plan.yaml:" in str(error.value)
