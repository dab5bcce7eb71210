"""Chainsaw tests load with their language: bindings, templating flags, checks, outputs,
scenarios and step templates read; what phasegate cannot evaluate (a function it lacks,
another engine, a cluster of a scenario, a file named by run-time bindings) is named with
file and line, and its test is not run."""

from __future__ import annotations

from pathlib import Path

from phasegate.suites import chainsaw

HEAD = "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: {name}\n"


def _write(tmp_path: Path, name: str, spec: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "chainsaw-test.yaml").write_text(HEAD.format(name=name) + spec)
    return folder


def test_bindings_checks_outputs_and_templates_are_read(tmp_path: Path) -> None:
    _write(tmp_path, "t", """spec:
  template: false
  bindings:
  - name: a
    value: 1
  steps:
  - bindings:
    - name: b
      value: ($a)
    try:
    - script:
        env:
        - name: X
          value: (to_string($b))
        content: echo $X
        check:
          (trim_space($stdout)): "1"
        outputs:
        - name: out
          value: ($stdout)
""")
    suite = chainsaw.load([tmp_path])
    assert suite.notes == ()
    test = suite.tests[0]
    assert (test.bindings, test.template) == ((("a", 1),), False)
    step = test.steps[0]
    assert step.bindings == (("b", "($a)"),)
    script = step.operations[0]
    assert script.env == (("X", "(to_string($b))"),)
    assert script.check == {"(trim_space($stdout))": "1"}
    assert script.outputs == (("out", "($stdout)", None),)


def test_what_cannot_be_evaluated_is_named_with_its_line(tmp_path: Path) -> None:
    _write(tmp_path, "fn", """spec:
  steps:
  - try:
    - assert:
        resource:
          (split($namespace, '-')):
            (length(@)): 2
""")
    _write(tmp_path, "sc", """spec:
  scenarios:
  - bindings:
    - name: cluster
      value: ''
  - bindings:
    - name: cluster
      value: other
  cluster: ($cluster)
  steps:
  - try:
    - sleep:
        duration: 1s
""")
    suite = chainsaw.load([tmp_path])
    tests = {t.path: t for t in suite.tests}
    folder = tmp_path.name
    assert tests[f"{folder}/fn/fn"].unsupported == (
        f"{tmp_path}/fn/chainsaw-test.yaml:8: assert: (split($namespace, '-')): function "
        "split is not supported",)
    assert tests[f"{folder}/sc/sc/scenario-1"].unsupported == ()  # '' is the suite's cluster
    assert tests[f"{folder}/sc/sc/scenario-2"].unsupported == (
        f"{tmp_path}/sc/chainsaw-test.yaml:13: Test.spec.cluster: other: clusters are not "
        "supported",)
    assert [t.scenario for t in suite.tests if "/sc/" in t.path] == [1, 2]


def test_a_step_template_is_its_operations_with_the_with_bindings_last(tmp_path: Path) -> None:
    folder = _write(tmp_path, "use", """spec:
  steps:
  - use:
      template: template.yaml
      with:
        bindings:
        - name: file
          value: cm.yaml
""")
    (folder / "template.yaml").write_text("""apiVersion: chainsaw.kyverno.io/v1alpha1
kind: StepTemplate
metadata:
  name: template
spec:
  bindings:
  - name: file
    value: missing.yaml
  try:
  - apply:
      file: ($file)
  - assert:
      file: (join('', [$namespace, '.yaml']))
""")
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    suite = chainsaw.load([tmp_path])
    step = suite.tests[0].steps[0]
    assert step.bindings == (("file", "missing.yaml"), ("file", "cm.yaml"))
    assert step.operations[0].objects == (
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},)
    assert step.operations[1].kind == "unsupported"  # $namespace is known only at run time
    assert suite.tests[0].unsupported == (
        f"{folder}/chainsaw-test.yaml: assert.file (join('', [$namespace, '.yaml'])): a file "
        "named by bindings known only when the test runs is not supported",)


def test_an_operation_field_phasegate_does_not_read_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "dry", """spec:
  steps:
  - try:
    - apply:
        dryRun: true
        resource:
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: a
""")
    suite = chainsaw.load([tmp_path])
    assert suite.tests[0].unsupported == (
        f"{tmp_path}/dry/chainsaw-test.yaml:9: apply.dryRun: not supported; not read",)


def test_a_compiler_makes_the_expressions_under_it_cel(tmp_path: Path) -> None:
    _write(tmp_path, "c", """spec:
  compiler: cel
  bindings:
  - name: a
    value: (1 + 1)
  steps:
  - try:
    - compiler: jp
      assert:
        bindings:
        - name: b
          compiler: cel
          value: (bindings.resolve("a") * 2)
        resource:
          data:
            x: ($b)
    - script:
        content: echo
        check:
          ($error): (object == null)
    - assert:
        resource:
          data:
            x: (cel; object +)
""")
    test = chainsaw.load([tmp_path]).tests[0]
    assert test.bindings == (("a", "(cel;1 + 1)"),)
    checked, scripted, _ = test.steps[0].operations
    assert checked.bindings == (("b", '(cel;bindings.resolve("a") * 2)'),)
    assert checked.objects == ({"data": {"x": "($b)"}},)  # the operation's compiler: jp
    assert scripted.check == {"(cel;$error)": "(cel;object == null)"}
    assert len(test.unsupported) == 2  # ($error) is no CEL, and neither is `object +`
    assert test.unsupported[0].startswith(
        f"{tmp_path}/c/chainsaw-test.yaml:23: script.check: (cel;$error): does not parse")
    assert ":25: assert: (cel; object +): does not parse" in test.unsupported[1]
