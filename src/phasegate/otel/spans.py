"""A run as a tree of spans, plain data: run → stage → phase (or tracer) → step (gate,
apply, rollback, …) → attempt. Built from what the store recorded, so the trace says
exactly what the evidence says, with the recorded times (secrets masked as stored)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phasegate.observation import Observation
from phasegate.store.records import GATE, RunBundle, StepRecord

STAGES = ("R", "0", "P", "I", "V")
STAGE_NAMES = {"R": "reality check", "0": "tracer bullets", "P": "plan", "I": "implementation",
               "V": "validation"}
MAX_ATTEMPTS = 500  # per step: a gate polled for an hour must not make a trace unreadable
_PASSED = ("passed", "ok")


@dataclass
class Span:
    name: str
    start: datetime
    end: datetime
    ok: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # why it failed
    children: list[Span] = field(default_factory=list)


def trace_id(run_id: str) -> int:
    """The trace of a run is found by its run id: the first 16 bytes of its sha256."""
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:16], "big")


def of_run(bundle: RunBundle) -> Span:
    run = bundle.run
    stages = [_stage(stage, [s for s in bundle.steps if s.stage == stage])
              for stage in _stages(bundle.steps)]
    end = run.finished or max((s.end for s in stages), default=run.started)
    name = f"{run.command} {run.plan_name}" if run.plan_name else run.command
    attributes = {"phasegate.run.id": run.id, "phasegate.command": run.command,
                  "phasegate.run.status": run.status}
    attributes |= _present({"phasegate.plan.name": run.plan_name,
                            "phasegate.plan.hash": run.plan_hash,
                            "phasegate.plan.path": run.plan_path})
    cluster = run.meta.get("cluster") or {}
    attributes |= _present({"k8s.cluster.uid": cluster.get("cluster_uid"),
                            "phasegate.cluster.server": cluster.get("server"),
                            "phasegate.cluster.context": cluster.get("context")})
    return Span(name, run.started, end, run.status in _PASSED, attributes,
                "" if run.status in _PASSED else run.summary, stages)


def _stages(steps: tuple[StepRecord, ...]) -> list[str]:
    seen = {s.stage for s in steps}
    return [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))


def _stage(stage: str, steps: list[StepRecord]) -> Span:
    # a phase's (or tracer's) steps become one span, in the place of its first step
    items: list[StepRecord | tuple[str, str]] = []
    groups: dict[tuple[str, str], list[StepRecord]] = {}
    for step in steps:
        key = _group_of(step)
        if key is None:
            items.append(step)
            continue
        if key not in groups:
            groups[key] = []
            items.append(key)
        groups[key].append(step)
    children = [_step(item) if isinstance(item, StepRecord) else _group(item, groups[item])
                for item in items]
    return _enclosing(f"stage {stage}", children, steps[0].started,
                      {"phasegate.stage": stage,
                       "phasegate.stage.name": STAGE_NAMES.get(stage, stage)})


def _group_of(step: StepRecord) -> tuple[str, str] | None:
    if step.phase is not None:
        return "phase", f"phase {step.phase_index}: {step.phase}"
    if step.tracer is not None:
        return "tracer", f"tracer {step.tracer}"
    return None


def _group(key: tuple[str, str], members: list[StepRecord]) -> Span:
    first = members[0]
    attributes: dict[str, Any] = (
        {"phasegate.phase.name": first.phase, "phasegate.phase.index": first.phase_index}
        if key[0] == "phase" else {"phasegate.tracer.name": first.tracer})
    return _enclosing(key[1], [_step(step) for step in members], first.started, attributes)


def _enclosing(name: str, children: list[Span], start: datetime,
               attributes: dict[str, Any]) -> Span:
    failed = [c for c in children if not c.ok]
    return Span(name, min([start, *(c.start for c in children)]),
                max([start, *(c.end for c in children)]), not failed, attributes,
                f"{failed[0].name}: {failed[0].description}" if failed else "", children)


def _step(step: StepRecord) -> Span:
    name = step.kind or (GATE if step.observations else step.name)
    attributes: dict[str, Any] = {"phasegate.step.name": step.name,
                                  "phasegate.step.status": step.status}
    attributes |= _present({"phasegate.step.kind": step.kind,
                            "phasegate.gate.timeout": step.timeout})
    attempts = list(step.observations)
    if len(attempts) > MAX_ATTEMPTS:
        attributes["phasegate.attempts.dropped"] = len(attempts) - MAX_ATTEMPTS
        attempts = attempts[:MAX_ATTEMPTS // 2] + attempts[-MAX_ATTEMPTS // 2:]
    attributes["phasegate.attempts"] = len(step.observations)
    children = [_attempt(o) for o in attempts]
    end = step.finished or max([step.started, *(c.end for c in children)])
    ok = step.status in _PASSED
    return Span(name, step.started, end, ok, attributes, "" if ok else step.detail, children)


def _attempt(observation: Observation) -> Span:
    attributes = {"phasegate.probe": observation.probe, "phasegate.attempt":
                  observation.attempt, "phasegate.passed": observation.passed,
                  "phasegate.expected": observation.expected,
                  "phasegate.observed": observation.observed}
    if observation.fail_fast:
        attributes["phasegate.fail_fast"] = True
    return Span(f"{observation.name} #{observation.attempt}", observation.started,
                observation.finished, observation.passed, attributes,
                "" if observation.passed else observation.observed)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}
