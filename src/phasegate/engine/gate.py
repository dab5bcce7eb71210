"""Gates: probes evaluated concurrently and re-evaluated until all pass or time runs out.

A fail-fast observation (waiting cannot change it) ends the whole gate at once. Every
attempt is reported through ``on_observation``, not only the last one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from phasegate.engine import attempt
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import registry
from phasegate.probes.base import ProbeContext

Outcome = Literal["passed", "failed", "timed_out", "fail_fast", "error"]
BACKOFF = 1.5
MAX_INTERVAL = 30.0


@dataclass(frozen=True)
class GateResult:
    outcome: Outcome
    observations: tuple[Observation, ...]  # every attempt, in the order they finished
    finals: tuple[Observation, ...]  # the last attempt of each probe, in the plan's order
    duration: float
    timeout: float
    intervals: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


async def evaluate(
    calls: Sequence[ProbeCall],
    ctx: ProbeContext,
    timeout: float = 0.0,
    on_observation: Callable[[Observation], None] | None = None,
) -> GateResult:
    """Evaluate ``calls`` as one gate. ``timeout=0`` asks each probe exactly once."""
    started = time.monotonic()
    deadline = started + timeout
    observations: list[Observation] = []
    stop = asyncio.Event()
    intervals = {call.name: _interval(call) for call in calls}

    def record(observation: Observation) -> None:
        observations.append(observation)
        if on_observation is not None:
            on_observation(observation)

    async def until_passed(call: ProbeCall) -> Observation:
        delay = intervals[call.name]
        number = 0
        while True:
            number += 1
            observation = await _attempt_within(call, ctx, number, deadline, timeout > 0)
            record(observation)
            remaining = deadline - time.monotonic()
            if observation.passed or observation.fail_fast or stop.is_set() or remaining <= 0:
                if observation.fail_fast and not observation.passed:
                    stop.set()
                return observation
            try:
                await asyncio.wait_for(stop.wait(), min(delay, remaining))
                return observation  # another probe failed fast: stop waiting on this one
            except TimeoutError:
                pass
            delay = min(delay * BACKOFF, call.max_interval or MAX_INTERVAL)

    finals = await asyncio.gather(*(until_passed(call) for call in calls))
    return GateResult(
        outcome=_outcome(finals, timeout > 0),
        observations=tuple(observations),
        finals=tuple(finals),
        duration=time.monotonic() - started,
        timeout=timeout,
        intervals=intervals,
    )


def _interval(call: ProbeCall) -> float:
    if call.interval is not None:
        return max(call.interval, 0.05)
    spec = registry.get(call.kind)
    return spec.default_interval if spec else 2.0


async def _attempt_within(
    call: ProbeCall, ctx: ProbeContext, number: int, deadline: float, bounded: bool
) -> Observation:
    if not bounded:
        return await attempt.run(call, ctx, number)
    # the gate's timeout bounds an attempt too; a slow probe must not stretch the gate
    remaining = max(deadline - time.monotonic(), 0.5)
    try:
        return await asyncio.wait_for(attempt.run(call, ctx, number), remaining)
    except TimeoutError:
        from phasegate.observation import Verdict

        verdict = Verdict(False, "an answer", "no answer before the gate's timeout")
        return attempt.as_observation(call, verdict, number)


def _outcome(finals: Sequence[Observation], waited: bool) -> Outcome:
    if all(o.passed for o in finals):
        return "passed"
    if any(o.error and o.fail_fast for o in finals):
        return "error"
    if any(o.fail_fast and not o.passed for o in finals):
        return "fail_fast"
    return "timed_out" if waited else "failed"
