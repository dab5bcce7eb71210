"""Fingerprints of what a phase applied: the same rendered objects give the same digest;
a changed file, and only that file, is named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from phasegate.plan.loader import load_plan
from phasegate.store import records
from phasegate.store.records import StepRecord
from phasegate.workflow import changes


def _plan(tmp_path: Path) -> Path:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: '${input.v}'}\n")
    (tmp_path / "m" / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: p}\n"
                    "target: {namespace: default}\n"
                    "phases:\n  - name: one\n    apply: m/\n  - name: two\n    apply: m/b.yaml\n")
    return plan


def _recorded(plan_path: Path, inputs: dict[str, str]) -> list[StepRecord]:
    """The apply steps a run of the plan records: each with its manifests' fingerprints."""
    from phasegate.kube import manifests

    plan = load_plan(plan_path, inputs)
    found = []
    for index, phase in enumerate(plan.phases, start=1):
        files = changes.fingerprint(manifests.load(phase.apply, plan.base_dir, plan.inputs),
                                    plan.base_dir)
        found.append(StepRecord(index, "I", f"phase {index}: {phase.name} · apply", "passed",
                                datetime.now(UTC), None, None, "", kind=records.APPLY,
                                phase=phase.name, phase_index=index, fingerprints=files))
    return found


def test_only_the_changed_file_of_a_passed_phase_is_named(tmp_path: Path) -> None:
    plan_path = _plan(tmp_path)
    before = _recorded(plan_path, {"v": "1"})
    assert before[0].fingerprints.keys() == {"m/a.yaml", "m/b.yaml"}
    plan = load_plan(plan_path, {"v": "1"})
    assert changes.changed_since(plan, before, {"one", "two"}) == []
    (tmp_path / "m" / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: changed}\n")
    found = changes.changed_since(load_plan(plan_path, {"v": "1"}), before, {"one", "two"})
    assert found == [changes.Changed(1, "one", ["m/a.yaml"])]
    assert changes.changed_since(load_plan(plan_path, {"v": "1"}), before, {"two"}) == []


def test_the_rendered_objects_count_not_the_text(tmp_path: Path) -> None:
    plan_path = _plan(tmp_path)
    before = _recorded(plan_path, {"v": "1"})
    (tmp_path / "m" / "b.yaml").write_text(  # same object, other spelling
        "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
    assert changes.changed_since(load_plan(plan_path, {"v": "1"}), before, {"one", "two"}) == []
