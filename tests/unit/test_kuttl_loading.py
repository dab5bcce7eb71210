"""kuttl suites load as kuttl reads them: steps grouped by number, names from the first
applied file or a TestStep's name, asserts and errors by file name; what is not supported is
named with file and line; a malformed file is a located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.probes import subset
from phasegate.suites import kuttl
from tests.integration.public_material import public

HARNESS = public("kuttl-suites/internal/harness/test_data")
JUNIT = public("kuttl-suites/test/junit")


def test_kuttls_own_harness_cases_load_with_kuttls_step_names() -> None:
    suite = kuttl.load([HARNESS])
    steps = {t.name: [s.title for s in t.steps] for t in suite.tests}
    assert steps["with-overrides"] == ["step 0-with-test-step-name-override",
                                       "step 1-test-assert", "step 2-pod",
                                       "step 3-name-overridden"]
    assert steps["create-or-update"] == ["step 0-crd", "step 1-create-deployment",
                                         "step 2-update-deployment"]
    assert steps["teststep-errors"] == ["step 0-create", "step 1-delete-error-check"]
    assert suite.notes == ()
    tests = {t.name: t for t in suite.tests}
    override = tests["with-overrides"].steps
    assert override[1].timeout == 20  # the TestAssert's, over the suite's 30
    assert override[0].timeout == 30
    assert len(override[2].apply) == 2 and len(override[2].asserts) == 1  # a step directory
    errors = tests["teststep-errors"].steps[1]
    assert [d.kind for d in errors.delete] == ["Pod"] and len(errors.errors) == 2
    patch = tests["cli-test"].steps[1].commands
    assert [c.ignore_failure for c in patch] == [False, True] and patch[0].namespaced


def test_the_junit_suites_load_as_two_test_directories() -> None:
    suite = kuttl.load([JUNIT / "suite1", JUNIT / "suite2"], timeout=2)
    assert [t.path for t in suite.tests] == [f"suite{n}/test{i}" for n in (1, 2)
                                             for i in range(3)]
    assert all(step.timeout == 2 for test in suite.tests for step in test.steps)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_what_is_not_supported_is_named_with_file_and_line(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "kuttl-test.yaml": "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\n"
                           "startKIND: true\nreportFormat: xml\n",
        "tests/a/00-assert.yaml": "apiVersion: kuttl.dev/v1beta1\nkind: TestAssert\n"
                                  "timeout: 5\nassertAll:\n- celExpr: 'true'\n",
        "tests/a/00-step.yaml": "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\n"
                                "kubeconfig: other.yaml\n",
    })
    notes = [str(n) for n in kuttl.load([root]).notes]
    assert notes == [
        f"{root}/kuttl-test.yaml:4: TestSuite.startKIND: phasegate runs against the cluster "
        "you name; it starts none",
        f"{root}/kuttl-test.yaml:5: TestSuite.reportFormat: phasegate writes its own reports "
        "(--reports DIR)",
        f"{root}/tests/a/00-assert.yaml:4: TestAssert.assertAll: expression asserts (CEL) are "
        "not supported; not evaluated",
        f"{root}/tests/a/00-step.yaml:3: TestStep.kubeconfig: steps run against the suite's "
        "cluster",
    ]


def test_a_malformed_step_is_an_error_at_its_line(tmp_path: Path) -> None:
    root = write(tmp_path, {"tests/a/00-step.yaml": "apiVersion: kuttl.dev/v1beta1\n"
                            "kind: TestStep\ncommands:\n- ignoreFailure: true\n"})
    with pytest.raises(PlanError) as caught:
        kuttl.load([root / "tests"])
    assert caught.value.file == str(root / "tests/a/00-step.yaml")
    assert caught.value.line == 4
    assert "expected a command or a script" in str(caught.value)
    (root / "tests/a/00-step.yaml").write_text("kind: Pod\n  bad: [\n")
    with pytest.raises(PlanError) as caught:
        kuttl.load([root / "tests"])
    assert caught.value.line == 2


@pytest.mark.parametrize(("expected", "actual", "problem"), [
    ({"a": 1}, {"a": 1, "b": 2}, None),
    ({"a": {"b": "x"}}, {"a": {"b": "x", "c": 1}}, None),
    ({"a": [{"n": 1}]}, {"a": [{"n": 1, "m": 2}]}, None),
    ({"a": [{"n": 1}]}, {"a": [{"n": 1}, {"n": 2}]}, "a: expected 1 items, found 2"),
    ({"a": [{"n": 2}, {"n": 1}]}, {"a": [{"n": 1}, {"n": 2}]}, "a[0].n: expected 2, found 1"),
    ({"a": {"b": 1}}, {"a": {}}, "a.b: missing"),
    ({"a": "1"}, {"a": 1}, "a: expected '1', found 1"),
    ({"a": True}, {"a": 1}, "a: expected True, found 1"),
    ({"replicas": 2}, {"replicas": 2.0}, None),
])
def test_kuttls_subset_rule(expected: object, actual: object, problem: str | None) -> None:
    assert subset.mismatch(expected, actual) == problem


def test_a_secrets_values_are_never_shown() -> None:
    shown = subset.redact_secret({"kind": "Secret", "data": {"password": "c2VjcmV0"}})
    assert shown == {"kind": "Secret", "data": {"password": subset.REDACTED}}


def test_a_secrets_values_are_not_said_by_a_mismatch() -> None:
    said = subset.mismatch({"kind": "Secret", "data": {"password": "d3Jvbmc="}},
                           {"kind": "Secret", "data": {"password": "c2VjcmV0"}}, secret=True)
    assert said == f"data.password: a different value ({subset.REDACTED})"
