"""A gate whose every attempt goes into the evidence store as it happens."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from phasegate.engine import gate, progress
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import stopping

GATE = records.StepPlace(records.GATE)

STEP_STATUS = {
    "passed": "passed",
    "failed": "failed",
    "timed_out": "timed out",
    "fail_fast": "failed",
    "error": "error",
}


async def run(
    store: EvidenceStore,
    run_id: str,
    stage: str,
    name: str,
    calls: Sequence[ProbeCall],
    ctx: ProbeContext,
    timeout: float,
    on_observation: Callable[[Observation], None] | None = None,
    *,
    on_wait: progress.Listener | None = None,
    place: records.StepPlace = GATE,
) -> gate.GateResult:
    step_id = store.start_step(run_id, stage, name, timeout=timeout or None, place=place)

    def record(observations: Sequence[Observation]) -> None:
        store.record_many(run_id, step_id, observations)

    try:
        result = await gate.evaluate(calls, ctx, timeout, on_observation, on_wait=on_wait,
                                     label=f"{stage} · {name}", on_observations=record)
    except BaseException as exc:
        store.finish_step(step_id, stopping.status_of(exc), str(exc))
        raise
    await _diagnose(store, run_id, calls, result, ctx)
    failed = [o for o in result.finals if not o.passed]
    detail = f"{len(result.finals) - len(failed)}/{len(result.finals)} passed"
    if result.outcome == "timed_out":
        detail += f"; gate timed out after {timeout:g} s"
    if result.intervals and timeout:
        detail += "; waiting: " + ", ".join(
            f"{n} " + ("by watch" if v == "watch" else v if isinstance(v, str) else f"every {v}s")
            for n, v in dict.fromkeys(result.intervals)
        )
    store.finish_step(step_id, STEP_STATUS[result.outcome], detail)
    return result


async def _diagnose(
    store: EvidenceStore,
    run_id: str,
    calls: Sequence[ProbeCall],
    result: gate.GateResult,
    ctx: ProbeContext,
) -> None:
    """Attach "why not ready" evidence for each probe that did not pass."""
    from phasegate.probes import registry

    for call, final in zip(calls, result.finals, strict=True):
        spec = registry.get(call.kind)
        if final.passed or spec is None or spec.diagnose is None or final.error:
            continue
        text = await spec.diagnose(call.params, ctx)
        if text:
            store.add_artifact(run_id, records.DIAGNOSTICS + final.name, text)
