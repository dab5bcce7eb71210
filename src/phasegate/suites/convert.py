"""A suite turned into phasegate plans a user can then extend (assumptions, tracers,
rollback): a plan per test. For kuttl, a phase per step: a step's objects become the
phase's manifest file, its asserts, errors and assert commands the phase's gate (Chainsaw:
:mod:`convert_chainsaw`). What a plan has no action for (a step's commands and deletes,
collectors) is listed at the top of the plan and returned, never dropped silently."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from phasegate.suites import model

NAMESPACE = "${input.namespace}"


@dataclass(frozen=True)
class Converted:
    test: str
    plan: Path
    not_converted: tuple[str, ...]


def convert(suite: model.Suite, out: Path) -> list[Converted]:
    if suite.format == "chainsaw":
        from phasegate.suites import convert_chainsaw

        return convert_chainsaw.convert(suite, out)
    done = []
    for test in suite.tests:
        directory = out / slug(test.path)
        (directory / "manifests").mkdir(parents=True, exist_ok=True)
        phases, missing = [], []
        for step in test.steps:
            phase, left = _phase(test, step, directory)
            phases.append(phase)
            missing += [f"{step.title}: {what}" for what in left]
        header = ["# kuttl created or merge-patched objects; a phase applies them server-side."]
        done.append(write_plan(directory, test, "kuttl", phases, header, missing))
    return done


def write_plan(directory: Path, test: model.Test, tool: str, phases: list[dict[str, Any]],
               header: list[str], missing: list[str]) -> Converted:
    """``plan.yaml`` in ``directory``: what was not converted listed at its top."""
    plan = {"apiVersion": "phasegate/v1", "kind": "Plan",
            "metadata": {"name": plan_name(test.path),
                         "description": f"{tool} test {test.path}, converted"},
            "target": {"namespace": NAMESPACE}, "phases": phases}
    lines = [f"# Converted by `phasegate suite convert` from the {tool} test {test.path}.",
             "# Run: phasegate run plan.yaml --context CTX --input namespace=NS --yes", *header]
    if missing:
        lines += ["# Not converted (no plan action for them; do them by hand):",
                  *(f"#   - {line}" for line in missing)]
    file = directory / "plan.yaml"
    file.write_text("\n".join(lines) + "\n" + yaml.safe_dump(plan, sort_keys=False),
                    encoding="utf-8")
    return Converted(test.path, file, tuple(missing))


def plan_name(path: str) -> str:
    """A plan's metadata.name for a test: lowercase, at most 63 characters (a digest of
    the whole when longer, so two long names stay two)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", path.lower()).strip("-._") or "test"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(path.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-._')}-{digest}"


def _phase(test: model.Test, step: model.Step, directory: Path
           ) -> tuple[dict[str, Any], list[str]]:
    phase: dict[str, Any] = {"name": step.title}
    if step.apply:
        manifest = directory / "manifests" / f"{step.index:02d}-{slug(step.name) or 'step'}.yaml"
        manifest.write_text(yaml.safe_dump_all(list(step.apply), sort_keys=False),
                            encoding="utf-8")
        phase["apply"] = str(manifest.relative_to(directory))
    gate: list[dict[str, Any]] = []
    for obj in step.asserts:
        gate.append({"k8s.match": {"object": obj}, "name": f"assert: {named(obj)}"})
    for obj in step.errors:
        gate.append({"k8s.match": {"object": obj, "absent": True},
                     "name": f"error: {named(obj)}"})
    cwd = os.path.relpath(test.directory.resolve(), directory.resolve())
    for command in step.assert_commands:
        gate.append({"command": _command(command, cwd), "name": f"assert: {command.text}"[:120],
                     "interval": 1})
    if gate:
        phase["gate"] = gate
    phase["timeout"] = f"{step.timeout or 30:g}s"
    phase["rollback"] = "none"  # kuttl rolls nothing back; choose auto to have it
    left = [f"command {c.text.strip()!r}" for c in step.commands]
    left += [f"delete {d.kind} {d.name or d.labels or '(all)'}" for d in step.delete]
    left += [f"{len(step.collectors)} collector(s)"] if step.collectors else []
    return phase, left


def _command(command: model.Command, cwd: str) -> dict[str, Any]:
    run = ["/bin/sh", "-c", command.script] if command.script else command.command
    if command.namespaced and not command.script:
        run = f"{command.command} --namespace {NAMESPACE}"
    return {"run": run, "cwd": cwd, "env": {"NAMESPACE": NAMESPACE},
            **({"timeout": f"{command.timeout:g}s"} if command.timeout else {})}


def named(obj: model.Json) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('name') or 'matching'}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")
