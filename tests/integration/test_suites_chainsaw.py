"""Chainsaw's own examples run unchanged on the sandbox: those phasegate supports pass, as
they do in Chainsaw's CI, JMESPath assertion trees, bindings, templates, checks and
outputs included; four fail for a reason outside the example (Chainsaw's CI configuration
file, its kind cluster's CoreDNS and single node, a public image); those using what
phasegate does not do (CEL, other clusters) are named with file and line and
not run, never guessed at. Every assert, its tree's expressions included, is a watch."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo
from phasegate.suites import chainsaw
from tests.integration.cli_helpers import phasegate
from tests.integration.public_material import public

EXAMPLES = public("chainsaw-examples")
PASS = ("apply-outputs/apply-outputs-1", "apply-outputs/apply-outputs-2",
        "array-assertion/array-assertions", "basic/basic", "bindings/bindings", "catch/catch",
        "cel/cel",
        "command-output/command-output", "delete/delete", "delete/delete-10",
        "deployment/deployment", "field-validation/field-validation", "finally/finally",
        "inline/inline", "jmespath-label-condition/jmespath-label-condition",
        "k8s-server-version/k8s-server-version", "list/list", "metrics-decode/metrics-decode",
        "namespace-template/namespace-template", "negative-testing/resource/negative-resource",
        "negative-testing/script/negative-script", "orphan/delete-test", "outputs/outputs",
        "quick-start/quick-start", "scenarios/scenarios/scenario-1",
        "scenarios/scenarios/scenario-2", "scenarios/scenarios-bindings/scenario-1",
        "scenarios/scenarios-bindings/scenario-2", "script-env/script-env", "sleep/sleep",
        "step-template/quick-start", "step-template-bindings/step-template-bindings",
        "template/template", "test-info/test-info", "timeout/timeout", "update/update",
        "update-crd/update-crd", "values/values", "yaml-anchors/yaml-anchors")
# what values/values asserts of $values, given as Chainsaw's CI gives them: by --values
VALUES = "foo: bar\nenv: poc\nclusterDirectory: my-cluster\nimage:\n  tag: '01'\n"
# they pass in Chainsaw's CI and must fail here, each for a reason outside the example:
DIFFER = (
    # its namespace annotation comes from the namespaceTemplate of Chainsaw's CI config file
    "namespace-template-config/namespace-template-config",
    # asserts CoreDNS's Deployment (k8s-app: kube-dns), which a kind cluster runs and the
    # sandbox does not
    "assertion-tree/assertion-tree",
    # asserts the cluster has exactly one Node, as Chainsaw's kind cluster has; the sandbox
    # has two KWOK nodes
    "non-resource-assertion/non-resource-assertion",
    # waits for an nginx pod to be Ready: the sandbox reaches no public registry, its pod
    # never pulls the image
    "wait/wait")
# Its second step patches a Pod's status.conditions to one entry and asserts exactly that
# list: it holds only until the node (KWOK here, the kubelet in Chainsaw's CI) adds its own
# conditions a few hundred ms later. A race in the example itself: whichever way it goes,
# the verdict must say so.
RACY = "patch/patch"
RACE_LOST = "test-pod differs: status.conditions: expected 1 items, found "
NOT_RUN = ("dynamic-clusters/dynamic-clusters",)
SKIPPED = ("proxy/proxy",)  # it says skip: true; reported skipped, as Chainsaw does


def test_what_is_not_supported_is_named_and_its_tests_are_not_run() -> None:
    suite = chainsaw.load([EXAMPLES], values={"foo": "bar"})
    assert len(suite.tests) == len(PASS) + len(DIFFER) + len(NOT_RUN) + len(SKIPPED) + 1
    assert {t.path.removeprefix("chainsaw-examples/") for t in suite.tests if t.skip} == set(
        SKIPPED)
    not_run = {t.path.removeprefix("chainsaw-examples/") for t in suite.tests if t.unsupported}
    assert not_run == set(NOT_RUN)
    notes = [str(n) for n in suite.notes]
    assert [n for n in notes if "/cel/" in n] == []  # its compiler: cel is read, as CEL
    # without --values, a test reading $values is not run, and the note says why
    bare = chainsaw.load([EXAMPLES])
    assert {t.path for t in bare.tests if t.unsupported} == {
        f"chainsaw-examples/{name}" for name in (*NOT_RUN, "values/values")}
    assert f"{EXAMPLES}/values/chainsaw-test.yaml:9: assert: $values: given by --values "\
        "FILE (as chainsaw test --values); none was given" in [str(n) for n in bare.notes]
    assert f"{EXAMPLES}/dynamic-clusters/chainsaw-test.yaml:22: step.clusters: not "\
        "supported; not read" in notes


@pytest.mark.cluster
def test_chainsaws_examples_pass_where_supported(cluster: SandboxInfo, kubectl: str,
                                                 tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(VALUES)
    done = phasegate("--json", "suite", "run", str(EXAMPLES), "--timeout", "3s",
                     "--values", str(tmp_path / "values.yaml"), "--kubeconfig",
                     str(cluster.kubeconfig), "--context", cluster.admin_context, "--store",
                     str(tmp_path / "e.db"), "--reports", str(tmp_path / "reports"),
                     env={"PHASEGATE_KUBECTL": kubectl},
                     timeout=300)
    assert done.stdout.startswith("{"), done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    verdicts = {name.removeprefix("chainsaw-examples/"): ok
                for name, ok in result["tests"].items()}
    raced = verdicts.pop(RACY)
    assert verdicts == {**dict.fromkeys(PASS, True), **dict.fromkeys(DIFFER, False)}
    assert sorted(n.removeprefix("chainsaw-examples/") for n in result["not_run"]) == sorted(
        NOT_RUN)
    junit = Path(result["reports"]["junit"]).read_text()
    assert sorted(n.removeprefix("chainsaw-examples/") for n in result["skipped"]) == sorted(
        SKIPPED)
    assert junit.count("<skipped") == len(NOT_RUN) + len(SKIPPED)
    # an assertion tree's gate waits by watch: on the objects it finds, and on the lists
    # its x_k8s_list reads (a non-resource assertion); its bindings are recorded with it
    report = json.loads(Path(result["reports"]["json"]).read_text())
    trees = {step["phase"].removeprefix("chainsaw-examples/"): check
             for step in report["steps"] for check in step["checks"]
             if check["probe"] == "k8s.match" and check["name"].startswith("assert")}
    for test in ("array-assertion/array-assertions", "bindings/bindings",
                 "non-resource-assertion/non-resource-assertion",
                 "jmespath-label-condition/jmespath-label-condition"):
        assert trees[test]["data"]["watch"], test
        assert trees[test]["data"]["watch"][0]["rv"], test
    assert trees["bindings/bindings"]["params"]["bindings"] == {"c": 3}
    pod = trees[RACY]  # its last assert: the Pod's
    assert pod["passed"] is raced, pod
    assert raced or RACE_LOST in pod["observed"], pod  # lost only to the node's conditions
    assert trees["non-resource-assertion/non-resource-assertion"]["data"]["watch"][0][
        "path"] == "/api/v1/nodes"


@pytest.mark.cluster
def test_a_chainsaw_secret_never_reaches_the_store_or_the_reports(
        cluster: SandboxInfo, kubectl: str, tmp_path: Path) -> None:
    secret = "hunter2-in-chainsaw"
    encoded = base64.b64encode(secret.encode()).decode()
    test = tmp_path / "suite" / "secret"
    test.mkdir(parents=True)
    (test / "chainsaw-test.yaml").write_text(f"""apiVersion: chainsaw.kyverno.io/v1alpha1
kind: Test
metadata:
  name: secret
spec:
  steps:
  - try:
    - apply:
        resource:
          apiVersion: v1
          kind: Secret
          metadata:
            name: creds
          data:
            password: {encoded}
    - script:
        content: kubectl get secret creds -n $NAMESPACE -o json
        outputs:
        - name: live
          value: (json_parse($stdout))
        check:
          (contains($stdout, 'creds')): true
    - assert:
        resource:
          ($live.metadata.name): creds
          # what a command prints is masked before anything reads it: $stdout too
          (starts_with($live.data.password, '******')): true
    - assert:
        timeout: 1s
        resource:
          apiVersion: v1
          kind: Secret
          metadata:
            name: creds
          data:
            password: (base64_encode('wrong'))
""")
    _, result, checks = _failing_suite(cluster, kubectl, tmp_path)
    # the script's check and the tree reading its output held; the wrong value did not
    assert [c["passed"] for c in checks if c["probe"] in ("command", "k8s.match")] == [
        True, True, False]
    assert checks[-1]["observed"].endswith("data.password: a different value (redacted)")
    _nowhere(result, tmp_path, secret, encoded)


@pytest.mark.cluster
def test_a_secret_read_by_a_binding_is_masked_like_one_the_suite_applies(
        cluster: SandboxInfo, kubectl: str, tmp_path: Path) -> None:
    # the Secret exists before the suite and no file of it holds its value: only the
    # binding's x_k8s_get reads it, and what it read must be masked from then on
    secret = "s3cret-only-in-the-cluster"
    encoded = base64.b64encode(secret.encode()).decode()
    base = [kubectl, "--kubeconfig", str(cluster.kubeconfig), "--context",
            cluster.admin_context]
    subprocess.run([*base, "create", "namespace", "outside"], check=True, capture_output=True)
    subprocess.run([*base, "-n", "outside", "create", "secret", "generic", "token",
                    f"--from-literal=value={secret}"], check=True, capture_output=True)
    test = tmp_path / "suite" / "bound"
    test.mkdir(parents=True)
    (test / "chainsaw-test.yaml").write_text("""apiVersion: chainsaw.kyverno.io/v1alpha1
kind: Test
metadata:
  name: bound
spec:
  bindings:
  - name: creds
    value: (x_k8s_get($client, 'v1', 'Secret', 'outside', 'token'))
  steps:
  - try:
    - assert:
        resource:
          ($creds.metadata.name): token
    - assert:
        timeout: 1s
        resource:
          (base64_decode($creds.data.value)): not-the-value
""")
    done, result, checks = _failing_suite(cluster, kubectl, tmp_path)
    assert [c["passed"] for c in checks if c["probe"] == "k8s.match"] == [True, False]
    assert secret.encode() not in (done.stdout + done.stderr).encode()
    _nowhere(result, tmp_path, secret, encoded)


def test_an_unusable_values_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("- not\n- a mapping\n")
    done = phasegate("suite", "run", str(EXAMPLES / "values"), "--values",
                     str(tmp_path / "v.yaml"), "--store", str(tmp_path / "e.db"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--values {tmp_path / 'v.yaml'}: expected a mapping of values" in done.stderr
    assert not (tmp_path / "e.db").exists()  # nothing was recorded
    kuttl = phasegate("suite", "run", str(public("kuttl-suites/test/junit") / "suite1"),
                      "--values", str(tmp_path / "v.yaml"))
    assert kuttl.returncode == 2 and "--values is Chainsaw's" in kuttl.stderr, kuttl.stderr


def _failing_suite(cluster: SandboxInfo, kubectl: str, tmp_path: Path
                   ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[Any]]:
    """The suite under tmp_path/suite run, failing (exit 1); its first step's checks."""
    done = phasegate("--json", "suite", "run", str(tmp_path / "suite"), "--kubeconfig",
                     str(cluster.kubeconfig), "--context", cluster.admin_context, "--store",
                     str(tmp_path / "e.db"), "--reports", str(tmp_path / "reports"),
                     env={"PHASEGATE_KUBECTL": kubectl}, timeout=120)
    assert done.stdout.startswith("{"), done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    report = json.loads(Path(result["reports"]["json"]).read_text())
    return done, result, [c for s in report["steps"] if s["name"] == "step-1"
                          for c in s["checks"]]


def _nowhere(result: dict[str, Any], tmp_path: Path, *texts: str) -> None:
    """None of ``texts`` is in a report or the store."""
    for file in [*Path(result["reports"]["md"]).parent.iterdir(), tmp_path / "e.db"]:
        content = file.read_bytes()
        assert not [t for t in texts if t.encode() in content], file
