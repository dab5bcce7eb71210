"""Chainsaw's own examples run unchanged on the sandbox: those phasegate supports pass, as
they do in Chainsaw's CI; one needs Chainsaw's CI configuration file, which is not part of
the example; those using what phasegate does not do (JMESPath, bindings, templates,
outputs, checks, clusters) are named with file and line and not run, never guessed at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from phasegate.suites import chainsaw
from tests.integration.cli_helpers import phasegate
from tests.integration.public_material import public

EXAMPLES = public("chainsaw-examples")
PASS = ("basic/basic", "catch/catch", "delete/delete", "delete/delete-10",
        "deployment/deployment", "field-validation/field-validation", "finally/finally",
        "inline/inline", "list/list", "orphan/delete-test", "patch/patch",
        "quick-start/quick-start", "sleep/sleep", "update/update", "update-crd/update-crd",
        "yaml-anchors/yaml-anchors")
# its namespace annotation comes from the namespaceTemplate of Chainsaw's CI config file
NEEDS_CONFIG = ("namespace-template-config/namespace-template-config",)
NOT_RUN = ("apply-outputs/apply-outputs-1", "apply-outputs/apply-outputs-2",
           "array-assertion/array-assertions", "assertion-tree/assertion-tree",
           "bindings/bindings", "cel/cel", "command-output/command-output",
           "dynamic-clusters/dynamic-clusters",
           "jmespath-label-condition/jmespath-label-condition",
           "k8s-server-version/k8s-server-version", "metrics-decode/metrics-decode",
           "namespace-template/namespace-template",
           "negative-testing/resource/negative-resource",
           "negative-testing/script/negative-script",
           "non-resource-assertion/non-resource-assertion", "outputs/outputs",
           "scenarios/scenarios", "scenarios/scenarios-bindings", "script-env/script-env",
           "step-template/quick-start", "step-template-bindings/step-template-bindings",
           "template/template", "test-info/test-info", "values/values", "wait/wait")


def test_what_is_not_supported_is_named_and_its_tests_are_not_run() -> None:
    suite = chainsaw.load([EXAMPLES])
    assert len(suite.tests) == len(PASS) + len(NEEDS_CONFIG) + len(NOT_RUN)
    not_run = {t.path.removeprefix("chainsaw-examples/") for t in suite.tests if t.unsupported}
    assert not_run == set(NOT_RUN)
    notes = [str(n) for n in suite.notes]
    assert f"{EXAMPLES}/bindings/chainsaw-test.yaml:7: Test.spec.bindings: bindings are not "\
        "supported" in notes
    assert f"{EXAMPLES}/command-output/chainsaw-test.yaml:12: script.check: not supported; "\
        "not read" in notes


@pytest.mark.cluster
def test_chainsaws_examples_pass_where_supported(cluster: SandboxInfo, kubectl: str,
                                                 tmp_path: Path) -> None:
    done = phasegate("--json", "suite", "run", str(EXAMPLES), "--timeout", "3s",
                     "--kubeconfig", str(cluster.kubeconfig), "--context",
                     cluster.admin_context, "--store", str(tmp_path / "e.db"), "--reports",
                     str(tmp_path / "reports"), env={"PHASEGATE_KUBECTL": kubectl},
                     timeout=300)
    result = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    verdicts = {name.removeprefix("chainsaw-examples/"): ok
                for name, ok in result["tests"].items()}
    assert verdicts == {**dict.fromkeys(PASS, True), **dict.fromkeys(NEEDS_CONFIG, False)}
    assert sorted(n.removeprefix("chainsaw-examples/") for n in result["not_run"]) == sorted(
        NOT_RUN)
    junit = Path(result["reports"]["junit"]).read_text()
    assert junit.count("<skipped") == len(NOT_RUN)
