"""A criterion that waits for another task: asked once, and blocked (not failing) while it
does not hold and the task it waits for is not completed."""

from __future__ import annotations

from collections.abc import Callable

from phasegate.engine import gate
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.tasks import model


def detail(blockers: tuple[str, ...], observed: str) -> str:
    return f"blocked by {', '.join(blockers)}; observed: {observed}"


async def ask(store: EvidenceStore, run_id: str, stage: str, name: str, call: ProbeCall,
              ctx: ProbeContext, blockers: tuple[str, ...],
              on_observation: Callable[[Observation], None] | None) -> Observation:
    """Ask once, without waiting out a timeout: what it waits for is not done yet, so
    waiting proves nothing. The step passes on a pass; anything else is blocked."""
    from phasegate.workflow import stopping

    step = store.start_step(run_id, stage, name, place=records.StepPlace(records.CRITERION))

    def record(observation: Observation) -> None:
        store.record(run_id, step, observation)
        if on_observation is not None:
            on_observation(observation)

    try:
        result = await gate.evaluate([call], ctx, 0.0, record)
    except BaseException as exc:
        store.finish_step(step, stopping.status_of(exc), str(exc))
        raise
    final = result.finals[0]
    if final.passed:
        store.finish_step(step, "passed", "1/1 passed")
    else:
        store.finish_step(step, model.BLOCKED, detail(blockers, final.observed))
    return final
