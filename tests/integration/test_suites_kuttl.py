"""kuttl's own suites run unchanged on the sandbox, with the verdicts kuttl's golden reports
(and kuttl's own integration test) expect, test by test and step by step; a failed assert
leaves its diff as evidence, and a Secret's values never reach the store or the reports."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate
from tests.integration.public_material import public

JUNIT = public("kuttl-suites/test/junit")
HARNESS = public("kuttl-suites/internal/harness/test_data")


def suite_run(cluster: SandboxInfo, kubectl: str, tmp_path: Path, *args: str
              ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = phasegate("--json", "suite", "run", *args, "--kubeconfig", str(cluster.kubeconfig),
                     "--context", cluster.admin_context, "--store", str(tmp_path / "e.db"),
                     "--reports", str(tmp_path / "reports"),
                     env={"PHASEGATE_KUBECTL": kubectl}, timeout=240)
    assert done.stdout, done.stderr
    return done, json.loads(done.stdout)


def kuttl_steps(golden: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    """(step name, failure message) of each test in kuttl's step-granularity JSON report."""
    return {f"{suite['name']}/{test['name']}": [
        (case["name"], (case.get("failure") or {}).get("message")) for case in test["testcase"]]
        for suite in golden["testsuite"] for test in suite["testsuite"]}


def our_steps(junit: Path) -> dict[str, list[tuple[str, str | None]]]:
    root = ET.parse(junit).getroot()
    found = {}
    for suite in root.findall("testsuite"):
        for test in suite.findall("testsuite"):
            found[f"{suite.get('name')}/{test.get('name')}"] = [
                (case.get("name", ""), (case.find("failure").get("message")  # type: ignore[union-attr]
                                        if case.find("failure") is not None else None))
                for case in test.findall("testcase")]
    return found


@pytest.mark.cluster
def test_kuttls_junit_suites_give_kuttls_golden_verdicts(
        cluster: SandboxInfo, kubectl: str, tmp_path: Path) -> None:
    # the assert that fails is `false` run again each second until the timeout: 2 s is enough
    done, result = suite_run(cluster, kubectl, tmp_path, str(JUNIT / "suite1"),
                             str(JUNIT / "suite2"), "--timeout", "2s")
    assert done.returncode == 1, done.stderr
    golden_steps = json.loads((JUNIT / "kuttl-report-step.json.golden").read_text())
    junit = Path(result["reports"]["junit"])
    assert our_steps(junit) == kuttl_steps(golden_steps)
    golden_tests = json.loads((JUNIT / "kuttl-report-test.json.golden").read_text())
    assert result["tests"] == {f"{suite['name']}/{case['name']}": "failure" not in case
                               for suite in golden_tests["testsuite"]
                               for case in suite["testcase"]}
    failure = ET.parse(junit).getroot().find(".//testcase[failure]/failure")
    assert failure is not None and failure.text is not None
    assert "failed, exit status 1" in failure.text
    report = json.loads(Path(result["reports"]["json"]).read_text())
    failed = [s for s in report["steps"]
              if s["phase"] == "suite1/test1" and s["status"] == "failed"]
    assert [s["name"] for s in failed] == ["step 2-run"]
    # the command's output is evidence, as kuttl's report never kept it
    assert "step stdout" in failed[0]["checks"][0]["output"]
    assert "step stderr" in failed[0]["checks"][0]["output"]


@pytest.mark.cluster
def test_kuttls_harness_cases_all_pass(cluster: SandboxInfo, kubectl: str,
                                       tmp_path: Path) -> None:
    done, result = suite_run(cluster, kubectl, tmp_path, str(HARNESS), "--timeout", "20s")
    assert done.returncode == 0, [s for s in result["steps"] if not s["passed"]]
    assert result["tests"] == {f"test_data/{name}": True for name in (
        "cli-test", "create-or-update", "crd-in-step", "delete-in-step", "list-pods",
        "teststep-apply", "teststep-assert", "teststep-errors", "with-overrides")}
    assert result["unsupported"] == []
    report = json.loads(Path(result["reports"]["json"]).read_text())
    probes = {c["probe"] for s in report["steps"] for c in s["checks"]}
    assert {"k8s.match", "command", "suite.apply", "suite.delete", "k8s.absent"} <= probes
    ignored = [c for s in report["steps"] for c in s["checks"]
               if c["name"] == "command: kubectl command is bad"]
    assert ignored and ignored[0]["passed"] and "(ignoreFailure)" in ignored[0]["observed"]


@pytest.mark.cluster
def test_a_failed_assert_leaves_its_diff_and_no_secret(cluster: SandboxInfo, kubectl: str,
                                                       tmp_path: Path) -> None:
    secret = "hunter2-in-a-suite"
    encoded = base64.b64encode(secret.encode()).decode()
    test = tmp_path / "suite" / "mismatch"
    test.mkdir(parents=True)
    (test / "00-create.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        f"data: {{password: {encoded}}}\n")
    (test / "00-assert.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: slow}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        "data: {password: d3Jvbmc=}\n"
        "---\napiVersion: kuttl.dev/v1beta1\nkind: TestAssert\ntimeout: 1\n"
        "collectors:\n- type: events\n")
    (test / "00-errors.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n")
    done, result = suite_run(cluster, kubectl, tmp_path, str(tmp_path / "suite"))
    assert done.returncode == 1
    report = json.loads(Path(result["reports"]["json"]).read_text())
    step = next(s for s in report["steps"] if s["name"] == "step 0-create")
    checks = {c["name"]: c for c in step["checks"]}
    config = checks["assert: ConfigMap settings"]
    assert not config["passed"]
    assert "data.mode: expected 'slow', found 'fast'" in config["observed"]
    assert "-  mode: slow" in config["output"] and "+  mode: fast" in config["output"]
    assert not checks["error: ConfigMap settings"]["passed"]
    assert "matches" in checks["error: ConfigMap settings"]["observed"]
    assert "suite.collect" in {c["probe"] for c in step["checks"]}
    for file in [*Path(result["reports"]["md"]).parent.iterdir(), tmp_path / "e.db"]:
        content = file.read_bytes()
        assert secret.encode() not in content and encoded.encode() not in content, file


def test_strict_refuses_what_is_not_supported_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "kuttl-test.yaml").write_text(
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\nstartKIND: true\n")
    (tmp_path / "tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "a" / "00-run.yaml").write_text(
        "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\ncommands: [{script: 'true'}]\n")
    done = phasegate("suite", "run", str(tmp_path), "--strict", "--store", str(tmp_path / "e.db"))
    assert done.returncode == 2
    assert f"{tmp_path}/kuttl-test.yaml:4: TestSuite.startKIND" in done.stderr


@pytest.mark.cluster
def test_a_converted_suite_runs_as_a_plan(cluster: SandboxInfo, namespace: str,
                                          tmp_path: Path) -> None:
    test = tmp_path / "suite" / "config"
    test.mkdir(parents=True)
    (test / "00-create.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, labels: {app: shop}}\n"
        "data: {mode: fast, level: '3'}\n")
    (test / "00-assert.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {app: shop}}\ndata: {mode: fast}\n"
        "---\napiVersion: kuttl.dev/v1beta1\nkind: TestAssert\ncommands:\n"
        "- script: test \"$NAMESPACE\" = " + namespace + "\n")
    (test / "00-errors.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: slow}\n")
    converted = phasegate("suite", "convert", str(tmp_path / "suite"), "-o",
                          str(tmp_path / "plans"))
    assert converted.returncode == 0, converted.stderr
    plan = tmp_path / "plans" / "suite-config" / "plan.yaml"
    done = phasegate("run", str(plan), "--context", cluster.admin_context, "--kubeconfig",
                     str(cluster.kubeconfig), "--input", f"namespace={namespace}", "--yes",
                     "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "reports"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.cluster
def test_a_suite_file_installs_crds_and_manifests_before_its_tests(
        cluster: SandboxInfo, kubectl: str, namespace: str, tmp_path: Path) -> None:
    group = f"{namespace}.example.com"  # a CRD of this test's own, removed afterwards
    root = tmp_path / "e2e"
    for directory in ("crds", "manifests", "tests/first", "tests/second"):
        (root / directory).mkdir(parents=True)
    (root / "kuttl-test.yaml").write_text(
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\ncrdDir: crds\n"
        f"manifestDirs: [manifests]\nnamespace: {namespace}\nparallel: 2\ntimeout: 20\n"
        "commands:\n- script: echo suite set up\n")
    (root / "crds" / "widget.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        f"metadata: {{name: widgets.{group}}}\nspec:\n  group: {group}\n"
        "  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n"
        "  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema: {openAPIV3Schema: {type: object, "
        "x-kubernetes-preserve-unknown-fields: true}}\n")
    (root / "manifests" / "shared.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: {namespace}}}\n"
        "data: {who: suite}\n")
    for test, size in (("first", 1), ("second", 2)):
        (root / "tests" / test / "00-widget.yaml").write_text(
            f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w{size}}}\n"
            f"spec: {{size: {size}}}\n")
        (root / "tests" / test / "00-assert.yaml").write_text(
            f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w{size}}}\n"
            f"spec: {{size: {size}}}\n---\napiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: shared}\ndata: {who: suite}\n")
    try:
        done, result = suite_run(cluster, kubectl, tmp_path, str(root))
    finally:
        with connect(cluster) as api:
            api.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                        f"widgets.{group}")
    assert done.returncode == 0, result["steps"]
    assert result["tests"] == {"tests/first": True, "tests/second": True}
    assert result["steps"][0] == {"test": "", "step": "suite setup", "passed": True,
                                  "message": ""}
    report = json.loads(Path(result["reports"]["json"]).read_text())
    setup = report["steps"][0]
    assert setup["kind"] == "suite-setup" and setup["phase"] is None
    assert {c["probe"] for c in setup["checks"]} == {"command", "suite.apply", "k8s.condition"}
    # the suite's namespace was there before it: the suite neither made nor deletes it, but
    # deletes what each test made in it, as kuttl does
    deleted = sorted(c["name"] for s in report["steps"] if s["name"] == "teardown"
                     for c in s["checks"])
    assert deleted == [f"Widget {namespace}/w1", f"Widget {namespace}/w2"]
