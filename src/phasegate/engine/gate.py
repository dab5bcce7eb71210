"""Gates: probes evaluated concurrently and re-evaluated until all pass or time runs out.

A fail-fast observation (waiting cannot change it) ends the whole gate at once. Every
attempt is reported through ``on_observation``, not only the last one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from phasegate.engine import attempt
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import registry
from phasegate.probes.base import ProbeContext

Outcome = Literal["passed", "failed", "timed_out", "fail_fast", "error"]
BACKOFF = 1.5
MAX_INTERVAL = 30.0
WATCH_RECHECK = 30.0  # even a watched probe is asked again this often, in case a watch missed
WATCH_RETRY = 0.1


@dataclass(frozen=True)
class GateResult:
    outcome: Outcome
    observations: tuple[Observation, ...]  # every attempt, in the order they finished
    finals: tuple[Observation, ...]  # the last attempt of each probe, in the plan's order
    duration: float
    timeout: float
    # (check name, seconds or "watch") per probe, in the plan's order: names may repeat
    intervals: tuple[tuple[str, float | str], ...] = ()

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
    intervals = tuple(
        (call.name, "watch" if _watcher(call) else _interval(call)) for call in calls
    )

    # on_observation writes to the store, which may wait seconds for another writer's lock;
    # one writer thread keeps the loop (and every watch on it) free, and the order intact.
    writer = ThreadPoolExecutor(1, "phasegate-record") if on_observation is not None else None

    async def record(observation: Observation) -> None:
        observations.append(observation)
        if on_observation is not None and writer is not None:
            await asyncio.get_running_loop().run_in_executor(writer, on_observation, observation)

    attempts = [0] * len(calls)

    async def once(index: int) -> Observation:
        attempts[index] += 1
        observation = await _attempt_within(calls[index], ctx, attempts[index], deadline,
                                            timeout > 0)
        await record(observation)
        return observation

    async def until_passed(index: int) -> Observation:
        call = calls[index]
        delay = _interval(call)
        while True:
            observation = await once(index)
            remaining = deadline - time.monotonic()
            if observation.passed or observation.fail_fast or stop.is_set() or remaining <= 0:
                if observation.fail_fast and not observation.passed:
                    stop.set()
                return observation
            if await _pause(call, ctx, observation, stop, min(delay, remaining), remaining):
                return observation  # another probe failed fast: stop waiting on this one
            delay = min(delay * BACKOFF, call.max_interval or MAX_INTERVAL)

    try:
        finals = await _all_until_passed(calls, until_passed, once, deadline, timeout, stop)
    finally:
        if writer is not None:
            writer.shutdown(wait=True)  # a write already begun finishes before the step does
    return GateResult(
        outcome=_outcome(finals, timeout > 0),
        observations=tuple(observations),
        finals=tuple(finals),
        duration=time.monotonic() - started,
        timeout=timeout,
        intervals=intervals,
    )


async def _all_until_passed(
    calls: Sequence[ProbeCall],
    until_passed: Callable[[int], Awaitable[Observation]],
    once: Callable[[int], Awaitable[Observation]],
    deadline: float,
    timeout: float,
    stop: asyncio.Event,
) -> list[Observation]:
    finals = list(await asyncio.gather(*(until_passed(i) for i in range(len(calls)))))
    # All passed, but not at the same moment: the gate holds only if those that passed
    # earlier still pass now (a pod Ready a minute ago may have restarted since).
    while timeout > 0 and len(calls) > 1 and all(o.passed for o in finals):
        latest = max(range(len(finals)), key=lambda i: finals[i].finished)
        earlier = [i for i in range(len(finals)) if i != latest]
        rechecked = await asyncio.gather(*(once(i) for i in earlier))
        for i, observation in zip(earlier, rechecked, strict=True):
            finals[i] = observation
        lapsed = [i for i in earlier if not finals[i].passed]
        if not lapsed or deadline - time.monotonic() <= 0 or stop.is_set():
            break
        waited = await asyncio.gather(*(until_passed(i) for i in lapsed))
        for i, observation in zip(lapsed, waited, strict=True):
            finals[i] = observation
    return finals


async def _pause(
    call: ProbeCall,
    ctx: ProbeContext,
    last: Observation,
    stop: asyncio.Event,
    poll_delay: float,
    remaining: float,
) -> bool:
    """Wait before the next attempt: for a change event where the probe can watch, else for
    ``poll_delay``. True when the gate is stopping."""
    watcher = _watcher(call)
    budget = min(remaining, WATCH_RECHECK) if watcher else poll_delay
    started = time.monotonic()
    stopper = asyncio.ensure_future(stop.wait())
    waiter = asyncio.ensure_future(
        watcher(call.params, ctx, last.data, budget) if watcher else asyncio.sleep(budget)
    )
    done, pending = await asyncio.wait(
        {stopper, waiter}, timeout=budget + 1, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if stopper in done:
        return True
    changed = waiter in done and waiter.exception() is None and waiter.result() is not False
    if not changed and time.monotonic() - started < WATCH_RETRY:
        # a watch that failed or ended at once without news (410 Gone, a drop): do not spin
        await asyncio.sleep(min(WATCH_RETRY, max(remaining - (time.monotonic() - started), 0)))
    return False


def _watcher(call: ProbeCall) -> Any:
    spec = registry.get(call.kind)
    return spec.wait if spec is not None else None


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
