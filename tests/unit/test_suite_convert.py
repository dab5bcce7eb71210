"""kuttl suites convert to plans phasegate loads: a plan per test, a phase per step, the
step's asserts and errors as its gate; what a plan has no action for is listed in it."""

from __future__ import annotations

from pathlib import Path

from phasegate.plan.loader import load_plan
from phasegate.suites import convert, kuttl
from tests.integration.public_material import public


def test_kuttls_harness_cases_convert_to_plans_that_load(tmp_path: Path) -> None:
    suite = kuttl.load([public("kuttl-suites/internal/harness/test_data")])
    done = convert.convert(suite, tmp_path)
    assert len(done) == len(suite.tests) == 9
    for item, test in zip(done, suite.tests, strict=True):
        plan = load_plan(item.plan, {"namespace": "converted"})
        assert [p.name for p in plan.phases] == [s.title for s in test.steps]
        assert plan.target.namespace == "converted"
    plans = {d.test: d for d in done}
    errors = load_plan(plans["test_data/teststep-errors"].plan, {"namespace": "n"})
    gate = errors.phases[1].gate
    assert [call.kind for call in gate] == ["k8s.match", "k8s.match"]
    assert all(call.params.absent for call in gate)  # type: ignore[attr-defined]
    left = plans["test_data/teststep-errors"]
    assert left.not_converted == ("step 1-delete-error-check: delete Pod (all)",)
    assert "#   - step 1-delete-error-check: delete Pod (all)" in left.plan.read_text()


def test_assert_commands_become_command_checks_run_in_the_tests_directory(
        tmp_path: Path) -> None:
    suite = kuttl.load([public("kuttl-suites/test/junit/suite1")])
    done = convert.convert(suite, tmp_path)
    plan = load_plan(done[0].plan, {"namespace": "n"})
    check = plan.phases[0].gate[0]
    assert check.kind == "command"
    params = check.params.model_dump()
    assert params["run"][:2] == ["/bin/sh", "-c"] and "assert stdout" in params["run"][2]
    assert (done[0].plan.parent / params["cwd"]).resolve() == suite.tests[0].directory
    assert params["env"] == {"NAMESPACE": "n"}
