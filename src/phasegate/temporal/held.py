"""What a worker holds for the runs it serves — the evidence store, each run's plan and
verified target — and how every activity keeps its promises: idempotent by run id + step,
heartbeating while it works, its errors mapped to Temporal's retry semantics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from temporalio import activity, converter
from temporalio.exceptions import ApplicationError

from phasegate import secrets
from phasegate.engine import progress
from phasegate.errors import PhasegateError, PlanError
from phasegate.plan.model import Plan
from phasegate.probes.base import ProbeContext
from phasegate.store.evidence import EvidenceStore
from phasegate.temporal import steps
from phasegate.workflow import pipeline, stopping
from phasegate.workflow.session import Session

T = TypeVar("T", bound=steps.Said)
OLD_DONE = "temporal steps done"  # where workers before store revision 0006 kept them


@dataclasses.dataclass
class Held:
    store: EvidenceStore
    runs: dict[str, tuple[Plan, ProbeContext]] = dataclasses.field(default_factory=dict)


_held: Held | None = None


def hold(store: EvidenceStore) -> Held:
    """The worker's store; every activity of this process writes there."""
    global _held
    _held = Held(store)
    return _held


def held() -> Held:
    if _held is None:
        raise RuntimeError("no evidence store: activities run inside `phasegate worker`")
    return _held


def options(spec: steps.RunSpec) -> pipeline.RunOptions:
    return pipeline.RunOptions(
        stages=tuple(spec.stages), approve=spec.approve, yes=spec.yes, context=spec.context,
        kubeconfig=spec.kubeconfig, reports_dir=Path(spec.reports_dir), level=spec.level)


def load(spec: steps.RunSpec) -> Plan:
    """The plan the client started, refused when its file changed since (it is read here,
    by the worker, from the same path)."""
    from phasegate.plan.loader import load_plan

    plan = load_plan(spec.plan_path, spec.inputs)
    if plan.content_hash != spec.plan_hash:
        raise PlanError(f"the plan changed since run {spec.run_id} started (hash "
                        f"{spec.plan_hash[:12]} → {plan.content_hash[:12]}): start a new run",
                        file=spec.plan_path)
    return plan


async def session(spec: steps.RunSpec, said: list[str],
                  on_wait: progress.Listener | None = None) -> Session:
    """The run's session in this worker: plan loaded and target verified once per run."""
    state = held()
    known = state.runs.get(spec.run_id)
    if known is None:
        plan = load(spec)
        resolved = await pipeline.resolve(plan, options(spec))
        known = state.runs[spec.run_id] = (plan, resolved.context)
    return Session(state.store, spec.run_id, known[0], known[1], progress=said.append,
                   on_wait=on_wait)


def forget(run_id: str) -> None:
    held().runs.pop(run_id, None)


async def once(spec: steps.RunSpec, key: str, kind: type[T],
               work: Callable[[], Awaitable[T]], *, retried_closes: bool = True) -> T:
    """``work`` run for step ``key`` of the run, at most once to the end: a retry of a step
    that finished (the worker died before Temporal heard) returns what it returned then; a
    retry of one cut short first closes the steps it left running (``retried_closes``).
    What a step returned is one row of the store by its key, written once."""
    store = held().store
    retried = activity.info().attempt > 1
    done = store.held_step(key)
    if done is None and retried:  # a run begun by a worker that kept them in the meta
        record = store.run(spec.run_id)
        done = ((record.meta.get(OLD_DONE) or {}) if record is not None else {}).get(key)
    if done is not None:
        value: T = converter.value_to_type(kind, done)
        return value
    if retried and retried_closes and store.run(spec.run_id) is not None:
        stopping.abandon_cut_short(store, spec.run_id, when="Temporal retried the step")
    try:
        async with _heartbeats(spec):
            out = await work()
    except PhasegateError as exc:
        retry = bool(getattr(exc, "retryable", False))
        raise ApplicationError(str(exc), type=type(exc).__name__,
                               non_retryable=not retry) from None
    # what goes into the workflow's history is masked as what goes into the store
    plain = cast(dict[str, Any], secrets.mask_data(dataclasses.asdict(out)))
    if store.run(spec.run_id) is not None:  # a run that never opened keeps nothing
        store.hold_step(spec.run_id, key, plain)
    masked: T = converter.value_to_type(kind, plain)
    return masked


_observed: dict[str, dict[tuple[str, int], progress.ProbeWait]] = {}


def watcher(key: str) -> progress.Listener:
    """A gate's listener: what each probe observes now becomes the heartbeat's details."""
    seen = _observed.setdefault(key, {})

    def heard(wait: progress.ProbeWait) -> None:
        seen[wait.key] = wait

    return heard


def _details(key: str) -> list[dict[str, Any]]:
    return [{"gate": w.gate, "probe": w.probe, "state": w.state, "waiting_for": w.waiting_for,
             "observed": w.observed, "elapsed": round(w.elapsed, 1)}
            for w in _observed.get(key, {}).values()]


@contextlib.asynccontextmanager
async def _heartbeats(spec: steps.RunSpec) -> AsyncIterator[None]:
    """Heartbeat while the step works: Temporal hears the worker is alive (and, in reply,
    delivers a cancellation as CancelledError into the step)."""
    key = activity.info().activity_id

    async def beat() -> None:
        while True:
            activity.heartbeat(_details(key))
            await asyncio.sleep(max(spec.heartbeat_seconds / 4, 0.2))

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        _observed.pop(key, None)
