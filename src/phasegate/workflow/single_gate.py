"""A run made of one recorded gate — ``phasegate check`` and ``phasegate probe``: resolve the
target, record the run and its gate, and say how it ended."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.engine import progress
from phasegate.engine.gate import GateResult
from phasegate.observation import Observation
from phasegate.plan.model import Target
from phasegate.plan.probe_call import ProbeCall
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import recorded_gate, stopping, target


@dataclass(frozen=True)
class StageResult:
    run_id: str
    gate: GateResult


@dataclass(frozen=True)
class GateRun:
    """What is recorded: the run's command, the gate's stage and name, and the run's fields."""

    command: str
    stage: str
    name: str
    summary: Callable[[GateResult], str]
    meta: dict[str, Any]
    plan_name: str | None = None
    plan_path: str | None = None
    plan_hash: str | None = None


async def run(
    store: EvidenceStore,
    recorded: GateRun,
    calls: Sequence[ProbeCall],
    declared: Target,
    base_dir: Path,
    timeout: float,
    on_observation: Callable[[Observation], None] | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    inputs: dict[str, Any] | None = None,
    on_wait: progress.Listener | None = None,
) -> StageResult:
    try:
        resolved = await target.resolve(declared, base_dir, calls, context=context,
                                        kubeconfig=kubeconfig, inputs=inputs)
        meta = {**recorded.meta, **({"cluster": resolved.identity} if resolved.identity else {})}
        run_id = store.start_run(recorded.command, plan_name=recorded.plan_name,
                                 plan_path=recorded.plan_path, plan_hash=recorded.plan_hash,
                                 meta=meta or None)
        try:
            result = await recorded_gate.run(store, run_id, recorded.stage, recorded.name, calls,
                                             resolved.context, timeout, on_observation,
                                             on_wait=on_wait)
        except BaseException as exc:
            store.finish_run(run_id, stopping.status_of(exc), stopping.summary_of(exc, run_id))
            raise
    finally:
        await target.release()
    store.finish_run(run_id, run_status(result), recorded.summary(result))
    return StageResult(run_id, result)


def run_status(result: GateResult) -> str:
    return {"passed": "passed", "error": "error"}.get(result.outcome, "failed")
