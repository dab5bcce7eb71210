"""The activities: each stage step of the local engine, called as it is there
(``workflow.pipeline``, ``phases``, ``tracers``, ``validation``, ``rollback``), one
dataclass in and one out, once per run id + step (``temporal.held.once``)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from phasegate.engine import progress
from phasegate.kube import apply
from phasegate.plan import probe_call
from phasegate.plan.model import Plan, Tracer
from phasegate.store import records
from phasegate.temporal import held, steps
from phasegate.workflow import phases, pipeline, stopping, tracers


@activity.defn(name="open_run")
async def open_run(given: steps.StepInput) -> steps.Opened:
    spec = given.spec

    async def work() -> steps.Opened:
        store = held.held().store
        if store.run(spec.run_id) is None:  # a retry after the record was made: it stays
            meta = {"engine": "temporal", "temporal": spec.connection}
            session = await pipeline.open_run(held.load(spec), store, spec.command,
                                              held.options(spec), run_id=spec.run_id,
                                              meta=meta)
            held.held().runs[spec.run_id] = (session.plan, session.ctx)
        return steps.Opened(run_id=spec.run_id)

    return await held.once(spec, given.key, steps.Opened, work)


@activity.defn(name="reality_check")
async def reality_check(given: steps.StepInput) -> steps.StageDone:
    async def work() -> steps.StageDone:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        stop = await pipeline.reality_check(session, held.options(given.spec))
        return steps.StageDone(said=said, stop=stop)

    return await held.once(given.spec, given.key, steps.StageDone, work)


@activity.defn(name="tracer_apply")
async def tracer_apply(given: steps.TracerInput) -> steps.TracerApplied:
    async def work() -> steps.TracerApplied:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        tracer = _tracer(session.plan, given.tracer)
        scratch, namespace = tracers.where(session.run_id, tracer)
        session.say(f"0 · tracer {tracer.name}: applying into {namespace}")
        applied: list[apply.Applied] = []
        try:
            refused = await tracers.apply_tracer(session, tracer, namespace, scratch, applied)
        except BaseException:  # the workflow never hears of what was applied: clean up here
            await tracers.clean_up(session, tracer, [tracers.leftover(a) for a in applied],
                                   scratch, namespace)
            raise
        return steps.TracerApplied(
            said=said, applied=[tracers.leftover(a) for a in applied],
            refused=None if refused is None else _tracer_result(refused))

    return await held.once(given.spec, given.key, steps.TracerApplied, work)


@activity.defn(name="tracer_gate")
async def tracer_gate(given: steps.TracerInput) -> steps.TracerResult:
    async def work() -> steps.TracerResult:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        tracer = _tracer(session.plan, given.tracer)
        outcome = await tracers.gate_tracer(session, tracer,
                                            tracers.where(session.run_id, tracer)[1])
        return dataclasses.replace(_tracer_result(outcome), said=said)

    return await held.once(given.spec, given.key, steps.TracerResult, work)


@activity.defn(name="tracer_cleanup")
async def tracer_cleanup(given: steps.CleanupInput) -> steps.CleanupDone:
    async def work() -> steps.CleanupDone:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        tracer = _tracer(session.plan, given.tracer)
        scratch, namespace = tracers.where(session.run_id, tracer)
        left = await tracers.clean_up(session, tracer, given.applied, scratch, namespace)
        return steps.CleanupDone(said=said, left=left)

    return await held.once(given.spec, given.key, steps.CleanupDone, work)


@activity.defn(name="preview")
async def preview(given: steps.StepInput) -> steps.Previewed:
    async def work() -> steps.Previewed:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        step = session.store.start_step(session.run_id, "P", "plan and approval",
                                        place=records.StepPlace(records.PLAN))
        with stopping.closed_on_stop(session.store, step):
            computed = await pipeline.compute_preview(session, held.options(given.spec), step)
        if isinstance(computed, pipeline.Stopped):
            return steps.Previewed(said=said, step=step, stop=computed.detail,
                                   status=computed.status)
        return steps.Previewed(said=said, step=step, hash=computed.hash,
                               preview=computed.to_dict(), markdown=computed.markdown())

    return await held.once(given.spec, given.key, steps.Previewed, work)


@activity.defn(name="approval")
async def approval(given: steps.ApprovalInput) -> steps.Approval:
    async def work() -> steps.Approval:
        said: list[str] = []
        session = await held.session(given.spec, said)
        approved, how = pipeline.decide(session, held.options(given.spec), given.hash, None,
                                        given.step, given=given.given)
        return steps.Approval(said=said, approved=approved, how=how)

    # a retry must not close the P step: it is this step's to finish
    return await held.once(given.spec, given.key, steps.Approval, work, retried_closes=False)


@activity.defn(name="phase_apply")
async def phase_apply(given: steps.PhaseInput) -> steps.PhaseApplied:
    async def work() -> steps.PhaseApplied:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        phase = session.plan.phases[given.index - 1]
        done = await phases.apply_phase(session, given.index, phase)
        if isinstance(done, phases.Failed):
            return steps.PhaseApplied(said=said, failed=done.reason, rollback=done.rollback)
        return steps.PhaseApplied(said=said, started=done.started.isoformat(),
                                  summary=done.summary, calls=[c.raw for c in done.calls])

    return await held.once(given.spec, given.key, steps.PhaseApplied, work)


@activity.defn(name="phase_gate")
async def phase_gate(given: steps.PhaseGateInput) -> steps.PhaseGated:
    async def work() -> steps.PhaseGated:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        phase = session.plan.phases[given.index - 1]
        applied = phases.Applied(datetime.fromisoformat(given.applied.started),
                                 given.applied.summary,
                                 [probe_call.build(raw) for raw in given.applied.calls])
        gated = await phases.gate_phase(session, given.index, phase, applied)
        if isinstance(gated, phases.Failed):
            return steps.PhaseGated(said=said, failed=gated.reason)
        return steps.PhaseGated(said=said, passed=_phase_result(gated))

    return await held.once(given.spec, given.key, steps.PhaseGated, work)


@activity.defn(name="phase_settle")
async def phase_settle(given: steps.SettleInput) -> steps.PhaseResult:
    async def work() -> steps.PhaseResult:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        phase = session.plan.phases[given.index - 1]
        outcome = await phases.settle(session, given.index, phase,
                                      phases.Failed(given.reason, given.rollback))
        return dataclasses.replace(_phase_result(outcome), said=said)

    return await held.once(given.spec, given.key, steps.PhaseResult, work)


@activity.defn(name="validation")
async def validation(given: steps.StepInput) -> steps.StageDone:
    async def work() -> steps.StageDone:
        said: list[str] = []
        session = await held.session(given.spec, said, _watcher())
        stop, files = await pipeline.validation(session, held.options(given.spec))
        return steps.StageDone(said=said, stop=stop, files=files)

    return await held.once(given.spec, given.key, steps.StageDone, work)


@activity.defn(name="finish")
async def finish(given: steps.FinishInput) -> steps.Finished:
    spec = given.spec

    async def work() -> steps.Finished:
        store = held.held().store
        if store.run(spec.run_id) is None:  # the run never started: nothing to close
            return steps.Finished()
        said: list[str] = []
        files: dict[str, str] = {}
        if given.status == "interrupted":  # as the local engine stops: no reports
            for step in store.load(spec.run_id).steps:  # a P step waiting for approval
                if step.status == "running":
                    store.finish_step(step.id, "interrupted", "interrupted")
            store.finish_run(spec.run_id, "interrupted",
                             stopping.summary_of(asyncio.CancelledError(), spec.run_id))
        elif given.status == "error":
            store.finish_run(spec.run_id, "error", given.detail)
        else:
            session = await held.session(spec, said)
            files = pipeline.finish(session, held.options(spec), given.status, given.detail)
        held.forget(spec.run_id)
        return steps.Finished(said=said, files=files)

    return await held.once(spec, given.key, steps.Finished, work)


ALL: list[Callable[..., Any]] = [
    open_run, reality_check, tracer_apply, tracer_gate, tracer_cleanup, preview, approval,
    phase_apply, phase_gate, phase_settle, validation, finish]


def _watcher() -> progress.Listener:
    return held.watcher(activity.info().activity_id)


def _tracer(plan: Plan, name: str) -> Tracer:
    return next(t for t in plan.tracers if t.name == name)


def _tracer_result(outcome: tracers.TracerOutcome) -> steps.TracerResult:
    return steps.TracerResult(name=outcome.name, assumption=outcome.assumption,
                              passed=outcome.passed, evidence=outcome.evidence)


def _phase_result(outcome: phases.PhaseOutcome) -> steps.PhaseResult:
    return steps.PhaseResult(index=outcome.index, name=outcome.name, status=outcome.status,
                             detail=outcome.detail)
