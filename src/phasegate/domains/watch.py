"""``phasegate health --watch``: every probe asked again on its own interval, for as long as
it runs; each change of a probe's answer rolls the domains up again, and each change of a
state is recorded (only changes: a quiet loop writes nothing)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from phasegate.domains import health
from phasegate.domains.model import DomainsFile
from phasegate.domains.records import DomainState, ProbeState
from phasegate.observation import Observation
from phasegate.probes import http_clients
from phasegate.probes.base import ProbeContext
from phasegate.store.evidence import EvidenceStore


@dataclass(frozen=True)
class Change:
    """What one roll-up changed: the domains whose state changed, with what each was before
    (None: never recorded), and the probes whose answer changed."""

    states: tuple[tuple[DomainState, DomainState | None], ...]
    probes: tuple[ProbeState, ...]


Listener = Callable[[health.Evaluation | None, Change], None]
# the asks due within one tick start together: 50 asks a second spread evenly woke the loop
# 50 times a second, each on cold caches (2.7 ms of CPU an http ask, against 1.4 ms in
# quarter-second batches); a probe is asked at most a tick after it is due
TICK = 0.25


async def watch(domains: DomainsFile, only: Sequence[str] | None, store: EvidenceStore,
                on_change: Listener, *, context: str | None = None,
                kubeconfig: str | None = None, stop: asyncio.Event | None = None) -> None:
    """Until ``stop`` is set (or the task is cancelled). ``on_change`` first gets the whole
    first evaluation, then each change."""
    from phasegate.workflow import target

    stop = stop or asyncio.Event()
    names = health.selected(domains, only)
    found = health.checks(domains, names)
    try:
        resolved = await target.resolve(domains.target, domains.base_dir,
                                        [c.call for c in found], context=context,
                                        kubeconfig=kubeconfig)
        per_domain = health.contexts(domains, names, resolved.context)
        loop = _Loop(domains, names, found, per_domain, store, on_change)
        async with http_clients.pooled():  # kept for the whole watch: see http_clients
            await loop.first()
            await loop.run(stop)
    finally:
        await target.release()


class _Loop:
    def __init__(self, domains: DomainsFile, names: list[str], found: list[health.Check],
                 contexts: dict[str, ProbeContext], store: EvidenceStore,
                 on_change: Listener) -> None:
        self.domains, self.names, self.found = domains, names, found
        self.contexts, self.on_change = contexts, on_change
        self.recorder = health.Recorder(store, names)
        self.observations: dict[tuple[str, int], Observation] = {}
        self.writing = asyncio.Lock()  # one roll-up at a time, in the order answers came

    async def first(self) -> None:
        started = time.monotonic()
        answers = await health.ask_all(self.found, self.contexts)
        self.observations = {(c.domain, c.index): o
                             for c, o in zip(self.found, answers, strict=True)}
        change = await self._publish()
        now = health.states(self.domains, self.names, self.found, self.observations)
        since = {name: self.recorder.since(name) or now[name].at for name in self.names}
        evaluation = health.Evaluation(now, dict(self.observations), tuple(self.found), since,
                                       tuple(s.domain for s, _ in change.states),
                                       time.monotonic() - started)
        self.on_change(evaluation, change)

    async def run(self, stop: asyncio.Event) -> None:
        begun = time.monotonic()
        count = max(len(self.found), 1)
        # spread over the interval: 500 probes of 10 s are 50 a second, not 500 every 10 s
        tasks = [asyncio.create_task(self._every(check, begun + check.interval * i / count,
                                                 stop))
                 for i, check in enumerate(self.found)]
        stopped = asyncio.create_task(stop.wait())
        try:
            # a probe's loop ends only by an error (the store cannot be written, the target
            # became unusable): the watch stops with it, never goes on without that probe
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task is stopped else task.exception()
                if failure is not None:
                    raise failure
        finally:
            for task in (stopped, *tasks):
                task.cancel()
            await asyncio.gather(stopped, *tasks, return_exceptions=True)

    async def _every(self, check: health.Check, offset: float, stop: asyncio.Event) -> None:
        due = offset + check.interval
        limit = min(health.ATTEMPT_LIMIT, max(check.interval, 5.0))
        while not stop.is_set():
            await _until(math.ceil(due / TICK) * TICK)
            seen = await health.ask(check, self.contexts[check.domain], limit)
            due = max(due + check.interval, time.monotonic())  # late: skip, never pile up
            key = (check.domain, check.index)
            before = self.observations.get(key)
            self.observations[key] = seen
            if before is None or health.answer(before) != health.answer(seen):
                change = await self._publish()
                if change.states or change.probes:
                    self.on_change(None, change)

    async def _publish(self) -> Change:
        async with self.writing:
            now = health.states(self.domains, self.names, self.found, self.observations)
            changed, probes = self.recorder.changes(now, self.found, self.observations)
            before = {s.domain: self.recorder.domains.get(s.domain) for s in changed}
            if changed or probes:
                await asyncio.to_thread(self.recorder.record, changed, probes)
            return Change(tuple((s, before[s.domain]) for s in changed), tuple(probes))


async def _until(when: float) -> None:
    """Sleep until ``when`` (``time.monotonic()``, the loop's clock). Tasks waiting for the
    same tick wake in the same turn of the loop (``asyncio.sleep`` would compute each
    deadline anew, a few microseconds apart)."""
    loop = asyncio.get_running_loop()
    if when <= loop.time():
        return
    waiter: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(when, _wake, waiter)
    try:
        await waiter
    finally:
        handle.cancel()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
