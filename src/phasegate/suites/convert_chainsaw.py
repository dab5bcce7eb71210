"""A Chainsaw suite turned into plans: a plan per test (per scenario), a phase per step, in
the order of its ``try`` operations (a step that applies after it asserts is split, so that
nothing is checked before it is made). Applies, creates, updates and patches are the
phase's manifest file; asserts and errors the very ``k8s.match`` checks ``suite run``
gives its gate (the assertion tree, its lookup fields templated, the bindings it reads);
scripts, commands and the kubectl operations (``wait``, ``get``…) ``command`` checks.
Bindings are resolved when static (:mod:`convert_static`); what a plan has no action for
(deletes, sleeps, catch, finally, cleanup, outputs) or that is known only when the test runs
is listed with its file and line, never dropped silently."""

from __future__ import annotations

import functools
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phasegate.probes import expressions
from phasegate.probes.expressions import Scope
from phasegate.suites import chainsaw, commands, model
from phasegate.suites import chainsaw_language as language
from phasegate.suites.chainsaw_ops import named
from phasegate.suites.convert import Converted, slug, write_plan
from phasegate.suites.convert_static import NAMESPACE, NotStatic, Static, escaped, placed

CHANGES = ("apply", "create", "update", "patch")
NO_ACTION = {
    "delete": "a plan has no delete action",
    "sleep": "a plan has no sleep (a phase's gate waits for what it checks)",
    "unsupported": "not supported (named above)",
}
PARTS = {"catch": "a plan has no action run when a step fails",
         "finally": "a plan has no action run after a step, whatever its outcome",
         "cleanup": "a plan has no cleanup action (rollback: auto restores what it applied)"}
HEADER = ["# Chainsaw applied, created, updated or patched objects; a phase applies them "
          "server-side.",
          "# Commands run with phasegate's environment: kubectl reads KUBECONFIG, its current "
          "context."]


def convert(suite: model.Suite, out: Path) -> list[Converted]:
    done = []
    for test in suite.tests:
        directory = out / slug(test.path)
        (directory / "manifests").mkdir(parents=True, exist_ok=True)
        missing = [f"test: {note}" for note in test.unsupported]
        if test.skip:
            missing.append(f"test: {_where(test, 'skip')}: skip: true: the test says not to "
                           "run it; nothing of it is converted")
        if test.namespace_template:
            missing.append(f"test: {_where(test, 'namespaceTemplate')}: namespaceTemplate: "
                           "the plan's namespace is an input, made before the plan runs")
        static = Static.of(test).bound(test.bindings, {})
        phases: list[dict[str, Any]] = []
        for step in test.steps:
            phases += _Step(test, step, directory, missing).phases(static)
        header = [*HEADER] + ([f"# Chainsaw ran it in the namespace {test.namespace}: "
                               f"--input namespace={test.namespace}"] if test.namespace else [])
        done.append(write_plan(directory, test, "Chainsaw", phases, header, missing))
    return done


def _where(test: model.Test, key: str) -> str:
    """file:line of the first ``key:`` in the test's file (what the model keeps no line of)."""
    file = Path(test.steps[0].files[0]) if test.steps else next(
        (test.directory / name for name in chainsaw.FILES if (test.directory / name).is_file()),
        test.directory / chainsaw.FILE)
    lines = file.read_text(encoding="utf-8").splitlines()
    number = next((n for n, line in enumerate(lines, 1) if line.strip().startswith(f"{key}:")),
                  None)
    return f"{file}:{number}" if number else str(file)


@dataclass
class _Phase:
    apply: list[model.Json] = field(default_factory=list)
    gate: list[dict[str, Any]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)


@dataclass
class _Step:
    test: model.Test
    step: model.Step
    directory: Path
    missing: list[str]

    def phases(self, static: Static) -> list[dict[str, Any]]:
        state = static.bound(self.step.bindings, {"step": {"id": self.step.index + 1}})
        groups = [_Phase()]
        for number, operation in enumerate(self.step.operations, 1):
            here = state.bound(operation.bindings, {"operation": {"id": number,
                                                                  "resourceId": 0}})
            try:
                self._operation(operation, here, number, groups)
            except NotStatic as exc:
                self._left(operation, str(exc))
                if groups[-1].apply or groups[-1].gate:  # what comes after it, after it
                    groups.append(_Phase())
            if operation.outputs:
                names = _output_names(operation, here, number)
                self._left(operation, f"outputs {', '.join(names)}: known only when the "
                           "test runs")
                state = state.without(names, f"an output of {operation.where}")
        for part, why in PARTS.items():
            for operation in getattr(self.step, "finally_" if part == "finally" else part):
                self._left(operation, why, part)
        kept = [group for group in groups if group.apply or group.gate] or groups[:1]
        return [self._written(group, index, len(kept)) for index, group in enumerate(kept)]

    def _operation(self, operation: model.Operation, here: Static, number: int,
                   groups: list[_Phase]) -> None:
        kind = operation.kind
        if kind in NO_ACTION:
            raise NotStatic(NO_ACTION[kind])
        if kind in CHANGES:
            changed = self._changed(operation, here, number)
            if groups[-1].gate:  # applied after a check: checked after it is made
                groups.append(_Phase())
            groups[-1].apply += changed
            return
        if kind in ("assert", "error"):
            checks = [self._match(operation, here, obj) for obj in operation.objects]
        elif operation.command is not None:
            checks = [_command(operation, here, self.test, self.directory)]
        else:
            raise NotStatic(f"{kind}: not supported")
        groups[-1].gate += checks
        groups[-1].timeouts.append(operation.timeout)

    def _templated(self, operation: model.Operation) -> bool:
        return next((flag for flag in (operation.template, self.step.template)
                     if flag is not None), self.test.template)

    def _changed(self, operation: model.Operation, here: Static, number: int
                 ) -> list[model.Json]:
        if operation.expect:
            raise NotStatic("expect: a phase's apply has no expected outcome but success")
        if operation.subresource:
            raise NotStatic(f"the {operation.subresource} subresource: a phase applies "
                            "objects, not their status")
        found = []
        for index, obj in enumerate(operation.objects, 1):
            if not self._templated(operation):
                found.append(placed(obj))
                continue
            one = here.bound((), {"operation": {"id": number, "resourceId": index}})
            found.append(one.value(functools.partial(_resource, obj, operation.kind), obj))
        return found

    def _match(self, operation: model.Operation, here: Static, obj: model.Json
               ) -> dict[str, Any]:
        tree = here.value(functools.partial(_resource, obj, operation.kind), obj) \
            if self._templated(operation) else placed(obj)
        return {"k8s.match": {"object": tree, "absent": operation.kind == "error",
                              "bindings": here.used(tree)},
                "name": f"{operation.kind}: {named(tree)}"}

    def _left(self, operation: model.Operation, why: str, part: str = "") -> None:
        what = f"{part} {operation.kind}".strip()
        self.missing.append(f"{self.step.title}: {what} ({operation.where}): {why}")

    def _written(self, group: _Phase, index: int, count: int) -> dict[str, Any]:
        name = self.step.title if index == 0 else f"{self.step.title} ({index + 1})"
        phase: dict[str, Any] = {"name": name}
        if group.apply:
            stem = slug(self.step.name).lower() or "step"
            file = self.directory / "manifests" / (
                f"{self.step.index:02d}-{stem}" + (f"-{index + 1}" if count > 1 else "")
                + ".yaml")
            file.write_text(yaml.safe_dump_all(group.apply, sort_keys=False), encoding="utf-8")
            phase["apply"] = str(file.relative_to(self.directory))
        phase["gate"] = group.gate  # [] when none: Chainsaw waits for no readiness
        phase["timeout"] = f"{max(group.timeouts, default=self.step.timeout or 30):g}s"
        phase["rollback"] = "none"  # Chainsaw rolls nothing back; choose auto to have it
        return phase


def _resource(obj: model.Json, kind: str, scope: Scope) -> model.Json:
    return language.resource(obj, scope, kind)


def _value(written: Any, scope: Scope) -> Any:
    return expressions.value_of(written, None, scope)


def _output_names(operation: model.Operation, here: Static, number: int) -> list[str]:
    """What an operation's outputs bind: a name may be an expression (of
    ``$operation.resourceId``, one per object), resolved when static."""
    names = []
    for index in range(1, max(len(operation.objects), 1) + 1):
        one = here.bound((), {"operation": {"id": number, "resourceId": index}})
        for name, _, _ in operation.outputs:
            try:
                names.append(str(one.value(functools.partial(_value, name), name)))
            except NotStatic:
                names.append(str(name))
    return list(dict.fromkeys(names))


def _command(operation: model.Operation, here: Static, test: model.Test, directory: Path
             ) -> dict[str, Any]:
    assert operation.command is not None
    env = dict(here.value(lambda scope: language.env(operation.env, scope), operation.env))
    env = {"NAMESPACE": NAMESPACE, **env}
    written = operation.command
    if written.script:
        run: list[str] = ["/bin/sh", "-c", escaped(written.script)]
    else:
        unknown = sorted({a or b for a, b in commands.VARIABLE.findall(written.command)} - set(env))
        if unknown:
            raise NotStatic(f"${unknown[0]} is read from the environment the test runs in")
        run = shlex.split(commands.expand(escaped(written.command), env))
    params: dict[str, Any] = {
        "run": run, "cwd": os.path.relpath(test.directory.resolve(), directory.resolve()),
        "env": env, "timeout": f"{max(operation.timeout, 1.0):g}s",
        **_checked(operation.check, here)}
    return {"command": params, "name": f"{operation.kind}: {written.text.strip()}"[:200],
            "interval": 1, "max_interval": 1}


_SPACE = r"\s*"
_NO_ERROR = (re.compile(rf"\({_SPACE}\$error{_SPACE}\)"), None), (
    re.compile(rf"\({_SPACE}\$error{_SPACE}=={_SPACE}null{_SPACE}\)"), True)
_CONTAINS = re.compile(rf"\({_SPACE}contains\({_SPACE}\$(stdout|stderr){_SPACE},{_SPACE}'([^']*)'"
                       rf"{_SPACE}\){_SPACE}\)")
_EQUALS = re.compile(rf"\({_SPACE}(trim_space\({_SPACE})?\$(stdout|stderr)({_SPACE}\))?{_SPACE}\)")


def _checked(check: Any, here: Static) -> dict[str, str]:
    """A ``check`` as the command probe's patterns: ``$error`` null (exit 0) and what
    ``$stdout``/``$stderr`` contain or equal; any other check is not a command probe's."""
    if check is None:
        return {}
    if not isinstance(check, dict):
        raise NotStatic(f"check {check!r}: a command check matches exit code and output only")
    patterns: dict[str, list[str]] = {"stdout": [], "stderr": []}
    succeeds = False
    for key, written in check.items():
        text = str(key)
        want = here.value(functools.partial(_value, written), written)
        contains, equals = _CONTAINS.fullmatch(text), _EQUALS.fullmatch(text)
        if any(rule.fullmatch(text) and want is value for rule, value in _NO_ERROR):
            succeeds = True
        elif contains and want is True:
            patterns[contains.group(1)].append(re.escape(contains.group(2)))
        elif equals and isinstance(want, str) and bool(equals.group(1)) == bool(equals.group(3)):
            space = r"\s*" if equals.group(1) else ""
            patterns[equals.group(2)].append(rf"\A{space}{re.escape(want)}{space}\Z")
        else:
            raise NotStatic(f"check {text}: {want!r}: a command check matches exit code 0 "
                            "and output patterns only")
    if not succeeds:
        raise NotStatic("check: without ($error): ~ the check, not the exit code, decides; "
                        "a command check needs exit code 0")
    return {stream: found[0] if len(found) == 1 else "".join(f"(?=[\\s\\S]*?{p})" if
                                                            not p.startswith("\\A") else
                                                            f"(?={p})" for p in found)
            for stream, found in patterns.items() if found}
