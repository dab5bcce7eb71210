"""How a check waits between its attempts: for a change event where it can watch, by a
backed-off poll where it cannot.

A watch that ends at once without news (410 Gone, a dropped stream) is normal now and
then: the check lists again at once and watches from the fresh resourceVersion. When that
keeps happening, or the server refuses the watch (forbidden, not supported), the check
polls for the rest of its gate, with backoff, and says so in the gate's intervals: a gate
never turns into a hot re-list loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from phasegate import errors
from phasegate.observation import Observation
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext

WATCH_RECHECK = 30.0  # even a watched probe is asked again this often, in case a watch missed
WATCH_RETRY = 0.1  # the pause after the second failed watch in a row; doubles after that
WATCH_QUICK = 1.0  # a watch ending sooner than this without news has failed
WATCH_FAILURES = 3  # failed watches in a row before the check polls instead


@dataclass
class Waiting:
    """One check's way of waiting, for the rest of its gate."""

    watch: Any  # the probe's wait function; None once the check polls
    interval: float  # the first poll interval
    max_interval: float
    failures: int = 0  # watches in a row that ended at once without news
    polling_because: str = ""

    def poll(self, because: str) -> None:
        self.watch = None
        self.polling_because = because

    def way(self, poll_delay: float) -> str:
        """How the check waits for its next attempt, in a word or two."""
        return "watch" if self.watch is not None else f"every {poll_delay:.2g}s"

    def describe(self) -> float | str:
        """What the gate's intervals record: "watch", seconds, or how and why it polled."""
        if self.watch is not None:
            return "watch"
        if not self.polling_because:
            return self.interval
        return (f"polled every {self.interval:g}s, backing off to {self.max_interval:g}s "
                f"({self.polling_because})")


async def pause(
    waiting: Waiting,
    call: ProbeCall,
    ctx: ProbeContext,
    last: Observation,
    stop: asyncio.Event,
    poll_delay: float,
    remaining: float,
) -> bool:
    """Wait before the next attempt. True when the gate is stopping."""
    watcher = waiting.watch
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
    if not watcher:
        return False
    failed = waiter.exception() if waiter in done else None
    if isinstance(failed, errors.WatchRefused):
        waiting.poll(str(failed))
        left = remaining - (time.monotonic() - started)
        return await pause(waiting, call, ctx, last, stop, min(poll_delay, left), left)
    elapsed = time.monotonic() - started
    changed = waiter in done and failed is None and waiter.result() is not False
    if changed or elapsed >= min(WATCH_QUICK, budget * 0.9):
        waiting.failures = 0  # news, or a quiet watch that ran its course
        return False
    waiting.failures += 1
    if waiting.failures >= WATCH_FAILURES:
        waiting.poll(f"the watch ended at once {waiting.failures} times in a row: "
                     + (str(failed) if failed is not None else "expired or dropped"))
    elif waiting.failures > 1:  # the first failure re-lists at once, as 410 Gone asks
        delay = WATCH_RETRY * 2 ** (waiting.failures - 2)
        await asyncio.sleep(min(delay, max(remaining - elapsed, 0)))
    return False
