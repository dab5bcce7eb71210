"""Gates: probes evaluated concurrently and re-evaluated until all pass or time runs out.

A fail-fast observation (waiting cannot change it) ends the whole gate at once. Every
attempt is reported through ``on_observation``, not only the last one; every wait through
``on_wait`` (``engine.progress``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from phasegate.engine import attempt, pausing, progress
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import base, registry
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
    # (check name, seconds, "watch", or how and why a watch fell back to polling) per probe,
    # in the plan's order: names may repeat
    intervals: tuple[tuple[str, float | str], ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def words(self) -> str:
        """The outcome as people read it ("timed out", "failed fast"); ``outcome`` is for
        machines (--json, the store)."""
        return OUTCOME_WORDS[self.outcome]


OUTCOME_WORDS: dict[str, str] = {"passed": "passed", "failed": "failed",
                                 "timed_out": "timed out", "fail_fast": "failed fast",
                                 "error": "could not decide"}


async def evaluate(
    calls: Sequence[ProbeCall],
    ctx: ProbeContext,
    timeout: float = 0.0,
    on_observation: Callable[[Observation], None] | None = None,
    *,
    on_wait: progress.Listener | None = None,
    label: str = "",
    on_observations: Callable[[Sequence[Observation]], None] | None = None,
) -> GateResult:
    """Evaluate ``calls`` as one gate. ``timeout=0`` asks each probe exactly once.
    ``label`` names the gate in what ``on_wait`` receives. ``on_observations`` gets the
    observations in order, as many at once as piled up while it last ran (a store writes
    them in one transaction); ``on_observation`` then gets each of them."""
    started = time.monotonic()
    deadline = started + timeout
    observations: list[Observation] = []
    stop = asyncio.Event()
    waits = [
        pausing.Waiting(_watcher(call), _interval(call), call.max_interval or MAX_INTERVAL)
        for call in calls
    ]
    # each check gets its own memo (a watch's newest event): it dies with the gate, so no
    # other check or later gate reads an event as the present
    contexts = [dataclasses.replace(ctx, extras={**ctx.extras, base.GATE_MEMO: {}})
                for _ in calls]

    # on_observation writes to the store, which may wait seconds for another writer's lock;
    # one writer thread keeps the loop (and every watch on it) free, and the order intact.
    writer = (_Writer(on_observations, on_observation)
              if on_observation is not None or on_observations is not None else None)

    async def record(observation: Observation) -> None:
        observations.append(observation)
        if writer is not None:
            writer.put(observation)

    attempts = [0] * len(calls)
    waited = [False] * len(calls)

    def tell(index: int, observation: Observation, state: progress.State, how: str = "") -> None:
        if on_wait is None or (state != "waiting" and not waited[index]):
            return  # a probe never waited on has nothing to say when it settles
        waited[index] = state == "waiting"
        on_wait(progress.ProbeWait(
            label, index, observation.name, state, observation.expected, observation.observed,
            time.monotonic() - started, timeout, observation.attempt, how))

    async def once(index: int) -> Observation:
        attempts[index] += 1
        observation = await _attempt_within(calls[index], contexts[index], attempts[index],
                                            deadline, timeout > 0)
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
                tell(index, observation, _settled(observation, stop.is_set()))
                return observation
            tell(index, observation, "waiting", waits[index].way(min(delay, remaining)))
            if await pausing.pause(waits[index], call, contexts[index], observation, stop,
                                   min(delay, remaining), remaining):
                tell(index, observation, "stopped")
                return observation  # another probe failed fast: stop waiting on this one
            if waits[index].watch is None:  # a watch waits for news, a poll backs off
                delay = min(delay * BACKOFF, waits[index].max_interval)

    try:
        finals = await _all_until_passed(calls, until_passed, once, deadline, timeout, stop)
    finally:
        if writer is not None:
            writer.close()  # every observation made is written before the step ends
    if writer is not None:
        writer.raise_failure()
    return GateResult(
        outcome=_outcome(finals, timeout > 0),
        observations=tuple(observations),
        finals=tuple(finals),
        duration=time.monotonic() - started,
        timeout=timeout,
        intervals=tuple((call.name, w.describe()) for call, w in zip(calls, waits, strict=True)),
    )


class _Writer:
    """Hands observations to one thread that records them in order. The loop does not wait
    for each write: a hop to a thread and back per observation cost more than the write
    (2.6 s for 10,000). Woken by an observation, the thread first lets more pile up for
    ``GATHER`` seconds, then takes them as one batch (one store transaction, not one per
    observation): woken per observation, it took the GIL from the loop at every system
    call the loop made (10,000 file probes: 21 s instead of 9 s on a busy machine). A
    failed write stops the gate at its next observation."""

    _STOP = object()
    BATCH = 500
    GATHER = 0.02

    def __init__(self, on_batch: Callable[[Sequence[Observation]], None] | None,
                 on_each: Callable[[Observation], None] | None) -> None:
        self._on_batch = on_batch
        self._on_each = on_each
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="phasegate-record", daemon=True)
        self._thread.start()

    def put(self, observation: Observation) -> None:
        self.raise_failure()
        self._queue.put(observation)

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        self._queue.put(self._STOP)
        self._thread.join()

    def _drain(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            if batch[-1] is not self._STOP:
                time.sleep(self.GATHER)
            while len(batch) < self.BATCH and batch[-1] is not self._STOP:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is self._STOP:  # close() puts it after the last observation
                batch.pop()
                done = True
            if batch and self._failure is None:
                try:
                    self._write(batch)  # type: ignore[arg-type]
                except BaseException as exc:  # handed to the loop at the next observation
                    self._failure = exc

    def _write(self, batch: list[Observation]) -> None:
        if self._on_batch is not None:
            self._on_batch(batch)
        if self._on_each is not None:
            for observation in batch:
                self._on_each(observation)


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


def _settled(observation: Observation, stopping: bool) -> progress.State:
    if observation.passed:
        return "passed"
    if observation.fail_fast:
        return "failed fast"
    return "stopped" if stopping else "timed out"


def _outcome(finals: Sequence[Observation], waited: bool) -> Outcome:
    if all(o.passed for o in finals):
        return "passed"
    if any(o.error and o.fail_fast for o in finals):
        return "error"
    if any(o.fail_fast and not o.passed for o in finals):
        return "fail_fast"
    return "timed_out" if waited else "failed"
