"""Chainsaw's whole examples directory converts to plans: every test is converted, wholly or
in part, what is not converted listed with its file and line; every plan loads; and
converted examples run on the sandbox with `phasegate run` and pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from phasegate.plan.loader import load_plan
from phasegate.sandbox import SandboxInfo
from phasegate.suites import chainsaw
from tests.integration.cli_helpers import phasegate
from tests.integration.public_material import public

EXAMPLES = public("chainsaw-examples")
WHERE = re.compile(r"^(test|[^:]+): .*" + re.escape(str(EXAMPLES)) + r"/[^:]+\.ya?ml:\d+")
# converted wholly: every operation of every step is in the plan
WHOLLY = {"array-assertion/array-assertions", "assertion-tree/assertion-tree", "basic/basic",
          "bindings/bindings", "cel/cel", "deployment/deployment", "inline/inline",
          "jmespath-label-condition/jmespath-label-condition", "list/list",
          "namespace-template-config/namespace-template-config",
          "non-resource-assertion/non-resource-assertion", "quick-start/quick-start",
          "scenarios/scenarios-bindings/scenario-1", "scenarios/scenarios-bindings/scenario-2",
          "script-env/script-env", "step-template/quick-start",
          "step-template-bindings/step-template-bindings", "update/update",
          "update-crd/update-crd", "yaml-anchors/yaml-anchors"}
# nothing of them converts: each operation is one a plan has no action for (a sleep, an
# apply expected to be refused, a check of a failing command or one the exit code does not
# decide), or reads what is known only when the test runs (the cluster's version,
# $values); or it says skip: true (proxy)
NOTHING = {"command-output/command-output", "field-validation/field-validation",
           "k8s-server-version/k8s-server-version", "negative-testing/resource/negative-resource",
           "negative-testing/script/negative-script", "proxy/proxy",
           "scenarios/scenarios/scenario-1", "scenarios/scenarios/scenario-2", "sleep/sleep",
           "timeout/timeout", "values/values"}


def convert(tmp_path: Path) -> dict[str, dict[str, object]]:
    done = phasegate("--json", "suite", "convert", str(EXAMPLES), "-o", str(tmp_path / "plans"))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    return {item["test"].removeprefix("chainsaw-examples/"): item
            for item in document["plans"]}


def test_every_example_converts_to_a_plan_that_loads_or_says_why_not(tmp_path: Path) -> None:
    plans = convert(tmp_path)
    suite = chainsaw.load([EXAMPLES])
    assert len(plans) == len(suite.tests) == 46
    kinds: dict[str, str] = {}
    for test, item in plans.items():
        plan = load_plan(Path(str(item["plan"])), {"namespace": "converted"})
        assert plan.target.namespace == "converted"
        left = item["not_converted"]
        assert isinstance(left, list)
        for line in left:  # each names its file and line
            assert WHERE.match(line), line
        made = any(phase.apply or phase.gate for phase in plan.phases)
        kinds[test] = "wholly" if not left else "partly" if made else "not"
    assert {t for t, kind in kinds.items() if kind == "wholly"} == WHOLLY
    assert {t for t, kind in kinds.items() if kind == "not"} == NOTHING
    print(f"{len(WHOLLY)} wholly, {len(plans) - len(WHOLLY) - len(NOTHING)} partly, "
          f"{len(NOTHING)} not")


def test_what_is_not_converted_is_named_in_the_plan_and_its_reason_given(
        tmp_path: Path) -> None:
    plans = convert(tmp_path)
    file = EXAMPLES / "template" / "chainsaw-test.yaml"
    assert plans["template/template"]["not_converted"] == [
        f"step-1: delete ({file}:25): a plan has no delete action"]
    # CEL evaluates as JMESPath does: the applied ConfigMap's values are known at convert
    cel = Path(str(plans["cel/cel"]["plan"])).parent / "manifests" / "00-step-1.yaml"
    assert yaml.safe_load(cel.read_text())["data"] == {"cel": "3", "jp": "3", "default": "3"}
    text = Path(str(plans["template/template"]["plan"])).read_text()
    assert f"#   - step-1: delete ({file}:25): a plan has no delete action" in text


@pytest.mark.cluster
@pytest.mark.parametrize("example", ["quick-start/quick-start", "bindings/bindings", "cel/cel",
                                     "script-env/script-env"])
def test_a_converted_example_runs_as_a_plan_and_passes(
        cluster: SandboxInfo, namespace: str, tmp_path: Path, example: str) -> None:
    plans = convert(tmp_path)
    plan = Path(str(plans[example]["plan"]))
    done = phasegate("--json", "run", str(plan), "--context", cluster.admin_context,
                     "--kubeconfig", str(cluster.kubeconfig), "--input",
                     f"namespace={namespace}", "--yes", "--store", str(tmp_path / "e.db"),
                     "--reports", str(tmp_path / "reports"), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "passed", result
    assert [p["name"] for p in result["phases"]] == [p["name"] for p in yaml_phases(plan)]


def yaml_phases(plan: Path) -> list[dict[str, object]]:
    phases: list[dict[str, object]] = yaml.safe_load(plan.read_text())["phases"]
    return phases
