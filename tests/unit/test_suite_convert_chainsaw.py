"""Chainsaw tests convert to plans phasegate loads: applies are a phase's manifests, asserts
and errors the very k8s.match checks `suite run` gates on, scripts command checks; what is
static ($namespace, constants) is resolved, the rest named with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from phasegate.plan.loader import load_plan
from phasegate.suites import chainsaw, convert

TEST = """\
apiVersion: chainsaw.kyverno.io/v1alpha1
kind: Test
metadata: {name: shop}
spec:
  bindings:
  - {name: prefix, value: shop}
  - {name: loud, value: (to_upper($namespace))}
  steps:
  - name: make
    bindings:
    - name: cm
      value: (join('-', [$prefix, $namespace]))
    try:
    - apply:
        resource:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: ($cm)}
          data: {where: ($namespace), step: (to_string($step.id)), raw: '${input.x}'}
    - assert:
        resource:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: ($cm)}
          data:
            (where == $namespace): true
    - error:
        resource:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: ($cm)}
          data: {where: elsewhere}
    - apply:
        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: second}}
    - script:
        env:
        - {name: WHO, value: ($prefix)}
        content: echo $WHO
        check:
          ($error): ~
          (trim_space($stdout)): shop
        outputs:
        - {name: said, value: ($stdout)}
    - assert:
        resource:
          (trim_space($said)): shop
    - delete:
        ref: {apiVersion: v1, kind: ConfigMap, name: second}
    - sleep: {duration: 1s}
    - script:
        env:
        - {name: LOUD, value: ($loud)}
        content: echo $LOUD
    - command:
        entrypoint: echo
        args: [$HOME]
    - script:
        content: 'false'
        check:
          ($error != null): true
    catch:
    - events: {}
"""


def converted(tmp_path: Path) -> tuple[convert.Converted, dict[str, Any], Path]:
    (tmp_path / "suite" / "shop").mkdir(parents=True)
    (tmp_path / "suite" / "shop" / "chainsaw-test.yaml").write_text(TEST)
    suite = chainsaw.load([tmp_path / "suite"])
    [done] = convert.convert(suite, tmp_path / "plans")
    text = done.plan.read_text()
    return done, yaml.safe_load(text), done.plan.parent


def test_applies_asserts_and_errors_become_phases_and_the_runners_gate(tmp_path: Path
                                                                      ) -> None:
    done, plan, directory = converted(tmp_path)
    assert [p["name"] for p in plan["phases"]] == ["make", "make (2)"]
    first = plan["phases"][0]
    [made] = yaml.safe_load_all((directory / first["apply"]).read_text())
    assert made["metadata"]["name"] == "shop-${input.namespace}"
    assert made["data"] == {"where": "${input.namespace}", "step": "1", "raw": "$${input.x}"}
    assert first["gate"] == [
        {"k8s.match": {"object": {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "shop-${input.namespace}"},
                                  "data": {"(where == $namespace)": True}},
                       "absent": False, "bindings": {"namespace": "${input.namespace}"}},
         "name": "assert: ConfigMap shop-${input.namespace}"},
        {"k8s.match": {"object": {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "shop-${input.namespace}"},
                                  "data": {"where": "elsewhere"}},
                       "absent": True, "bindings": {}},
         "name": "error: ConfigMap shop-${input.namespace}"}]
    assert first["rollback"] == "none" and first["timeout"] == "30s"
    # applied after the asserts: its own phase, so nothing is checked before it is made
    second = plan["phases"][1]
    assert "apply" in second and second["gate"][0]["command"]["stdout"] == (
        r"\A\s*shop\s*\Z")
    assert second["gate"][0]["command"]["env"] == {"NAMESPACE": "${input.namespace}",
                                                   "WHO": "shop"}
    loaded = load_plan(done.plan, {"namespace": "ns1", "x": "unused"})
    gate = loaded.phases[0].gate[0].params.model_dump()
    assert gate["object"]["metadata"]["name"] == "shop-ns1"
    assert gate["bindings"] == {"namespace": "ns1"}
    assert loaded.phases[0].gate[0].kind == "k8s.match"


def test_what_a_plan_cannot_hold_is_named_with_file_and_line(tmp_path: Path) -> None:
    done, plan, _ = converted(tmp_path)
    file = tmp_path / "suite" / "shop" / "chainsaw-test.yaml"

    def at(text: str, nth: int = 1) -> str:
        found = [n for n, line in enumerate(TEST.splitlines(), 1) if line.strip() == text]
        return f"{file}:{found[nth - 1]}"

    output = f"an output of {at('- script:')}"
    assert done.not_converted == (
        f"make: script ({at('- script:')}): outputs said: known only when the test runs",
        f"make: assert ({at('- assert:', 2)}): $said is known only when the test runs "
        f"({output})",
        f"make: delete ({at('- delete:')}): a plan has no delete action",
        f"make: sleep ({at('- sleep: {duration: 1s}')}): a plan has no sleep (a phase's gate "
        "waits for what it checks)",
        f"make: script ({at('- script:', 2)}): $loud is known only when the test runs "
        "(binding loud: its value differs from one evaluation to the next (it reads the time, "
        "or $namespace other than as text): known only when the test runs)",
        f"make: command ({at('- command:')}): $HOME is read from the environment the test "
        "runs in",
        f"make: script ({at('- script:', 3)}): check ($error != null): True: a command check "
        "matches exit code 0 and output patterns only",
        f"make: catch events ({at('- events: {}')}): a plan has no action run when a step "
        "fails")
    text = done.plan.read_text()
    assert all(f"#   - {line}" in text for line in done.not_converted)
    # after what is not converted, a phase of its own: never checked with what came before;
    # a phase left with nothing is not written
    assert [p["name"] for p in plan["phases"]] == ["make", "make (2)"]


def test_a_check_the_command_probe_cannot_express_is_not_converted(tmp_path: Path) -> None:
    _, plan, _ = converted(tmp_path)
    commands = [check["command"] for phase in plan["phases"] for check in phase["gate"]
                if "command" in check]
    assert [c["run"] for c in commands] == [["/bin/sh", "-c", "echo $WHO"]]
