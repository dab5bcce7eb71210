"""Where an activity's work runs: on a thread of the worker's activity pool, in that
thread's own event loop (kept for the thread's life, so the kube and HTTP clients the
local engine keeps per loop are reused by the steps the thread runs next). The worker's
own loop, which runs the workflows and talks to Temporal, never waits on a step: store
writes, plan loading and target checks of one run no longer hold up every other run.

While the work runs it heartbeats (what each probe observes now as the details), and a
cancellation — ``phasegate cancel``, a worker shutting down — cancels its task, so that it
stops as it stops in the local engine (a gate at once, a tracer cleaned up)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity

from phasegate.engine import progress

T = TypeVar("T")
CANCEL_POLL = 0.1  # seconds between two looks for a cancellation Temporal delivered

_local = threading.local()
_observed: dict[str, dict[tuple[str, int], progress.ProbeWait]] = {}


def run(work: Callable[[], Awaitable[T]], heartbeat_seconds: float) -> T:
    """``work()`` to its end on this thread's loop, heartbeating; a cancellation of the
    activity cancels it (and is raised, as Temporal's, when it has stopped)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    # Temporal would raise its cancellation anywhere in this thread, the loop's own code
    # included: held back, it is raised once the step has stopped in order
    with activity.shield_thread_cancel_exception():
        return loop.run_until_complete(_beating(work, heartbeat_seconds))


async def _beating(work: Callable[[], Awaitable[T]], heartbeat_seconds: float) -> T:
    key = activity.info().activity_id
    task = asyncio.ensure_future(work())

    async def beat() -> None:  # on to the end: a cancelled step's cleanup beats too
        every, cancelled = max(heartbeat_seconds / 4, 0.2), False
        while True:
            activity.heartbeat(_details(key))
            waited = 0.0
            while waited < every:
                if not cancelled and activity.is_cancelled():
                    cancelled = True
                    task.cancel()
                await asyncio.sleep(CANCEL_POLL)
                waited += CANCEL_POLL

    beating = asyncio.ensure_future(beat())
    try:
        return await task
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        _observed.pop(key, None)


def watcher(key: str) -> progress.Listener:
    """A gate's listener: what each probe observes now becomes the heartbeat's details."""
    seen = _observed.setdefault(key, {})

    def heard(wait: progress.ProbeWait) -> None:
        seen[wait.key] = wait

    return heard


def _details(key: str) -> list[dict[str, Any]]:
    return [{"gate": w.gate, "probe": w.probe, "state": w.state, "waiting_for": w.waiting_for,
             "observed": w.observed, "elapsed": round(w.elapsed, 1)}
            for w in list(_observed.get(key, {}).values())]
