"""The workflow of one run: the plan's shape (data, never code) interpreted stage by stage,
each step one activity. Deterministic: no I/O here, only the standard library, temporalio,
the dataclasses of ``temporal.steps`` and the verdicts of ``workflow.verdicts``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

# by their full names: ``from phasegate.temporal import steps`` would find the package
# this module's own import loaded afresh in the sandbox and load steps afresh under it,
# for every workflow (the worker passes them through: ``temporal.worker.PURE``)
with workflow.unsafe.imports_passed_through():
    import phasegate.temporal.steps as steps
    import phasegate.workflow.verdicts as verdicts

T = TypeVar("T", bound=steps.Said)
RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


@workflow.defn(name=steps.WORKFLOW)
class PhasegateRun:
    def __init__(self) -> None:
        self.state = steps.RunState(run_id="")
        self.spec: steps.RunSpec | None = None
        self.decision: steps.Decision | None = None
        self.verdict = "passed"  # failed or refused once a stage stops the run

    @workflow.query
    def status(self) -> steps.RunState:
        return self.state

    @workflow.update
    async def decide(self, decision: steps.Decision) -> str:
        self.decision = decision
        return "approved" if decision.approve else "rejected"

    @decide.validator
    def _valid_decision(self, decision: steps.Decision) -> None:
        if self.state.status != "awaiting approval":
            raise ApplicationError(f"run {self.state.run_id} is not waiting for approval "
                                   f"(it is {self.state.status}, at stage "
                                   f"{self.state.stage or '-'})", type="NotWaiting")
        if decision.approve and decision.hash != self.state.plan_hash:
            raise ApplicationError(
                f"hash {decision.hash!r} is not the plan this run computed: its preview "
                f"hashes to {self.state.plan_hash} (review it with `phasegate show "
                f"{self.state.run_id}`)", type="WrongHash")

    @workflow.run
    async def run(self, spec: steps.RunSpec) -> steps.RunState:
        self.spec = spec
        self.state = steps.RunState(run_id=spec.run_id)
        try:
            await self._call("open_run", steps.Opened,
                             steps.StepInput(spec, spec.key("open")))
        except ActivityError as exc:
            return self._ended("error", _reason(exc))
        try:
            for stage in spec.stages:
                self.state.stage = stage
                if await self._stage(spec, stage):
                    break
        except asyncio.CancelledError:
            return await self._close("interrupted", "")
        except ActivityError as exc:
            if isinstance(exc.cause, asyncio.CancelledError) or _cancelled(exc):
                return await self._close("interrupted", "")
            return await self._close("error", f"stopped by an error: {_reason(exc)}")
        return await self._close(self.verdict, self.state.detail)

    async def _stage(self, spec: steps.RunSpec, stage: str) -> bool:
        """One stage; True when the run stops here."""
        if stage == "R":
            done = await self._call("reality_check", steps.StageDone,
                                    steps.StepInput(spec, spec.key("R")))
            return done.stop is not None and self._stop("R", done.stop)
        if stage == "0":
            for name in spec.tracers:
                self.state.tracers.append(await self._tracer(spec, name))
            for outcome in self.state.tracers:
                self.state.lines.append(verdicts.tracer_line(outcome))
            stopped = verdicts.tracers_stop(self.state.tracers)
            return stopped is not None and self._stop("0", stopped)
        if stage == "P":
            return await self._approval(spec)
        if stage == "I":
            for shape in spec.phases:
                result = await self._phase(spec, shape)
                self.state.phases.append(result)
                if result.status != "passed":
                    break
            at = verdicts.phases_stop(self.state.phases, spec.run_id)
            return at is not None and self._stop(*at)
        done = await self._call("validation", steps.StageDone,
                                steps.StepInput(spec, spec.key("V")))
        self.state.files.update(done.files)
        return done.stop is not None and self._stop("V", done.stop)

    async def _tracer(self, spec: steps.RunSpec, name: str) -> steps.TracerResult:
        key = f"0/tracer/{name}"
        fired = await self._call("tracer_apply", steps.TracerApplied,
                                 steps.TracerInput(spec, spec.key(key), name))
        try:
            outcome = fired.refused or await self._call(
                "tracer_gate", steps.TracerResult,
                steps.TracerInput(spec, spec.key(key + "/gate"), name))
        finally:  # on failure and on cancellation alike: a tracer is always cleaned up
            cleaned = await self._call("tracer_cleanup", steps.CleanupDone, steps.CleanupInput(
                spec, spec.key(key + "/cleanup"), name, fired.applied))
        if cleaned.left:
            return steps.TracerResult(name=outcome.name, assumption=outcome.assumption,
                                      passed=False, evidence=f"{outcome.evidence}; cleanup "
                                      f"failed, left behind: {cleaned.left}")
        return outcome

    async def _approval(self, spec: steps.RunSpec) -> bool:
        previewed = await self._call("preview", steps.Previewed,
                                     steps.StepInput(spec, spec.key("P")))
        if previewed.stop is not None:
            return self._stop("P", previewed.stop, previewed.status)
        self.state.plan_hash = previewed.hash
        self.state.preview = previewed.preview
        self.state.preview_markdown = previewed.markdown
        given: str | None = None
        if spec.approve is None and not spec.yes:
            self.state.status = "awaiting approval"
            self.state.lines.append(f"P · waiting for approval: `phasegate approve "
                                    f"{spec.run_id} {previewed.hash}` (or reject)")
            await workflow.wait_condition(lambda: self.decision is not None)
            self.state.status = "running"
            assert self.decision is not None
            given = _how(self.decision)
        approval = await self._call("approval", steps.Approval, steps.ApprovalInput(
            spec, spec.key("P/decision"), previewed.step, previewed.hash, given))
        return not approval.approved and self._stop("P", approval.how, "refused")

    async def _phase(self, spec: steps.RunSpec, shape: steps.PhaseShape) -> steps.PhaseResult:
        key = f"I/phase/{shape.index}"
        applied = await self._call("phase_apply", steps.PhaseApplied,
                                   steps.PhaseInput(spec, spec.key(key), shape.index))
        failed, rollback = applied.failed, applied.rollback
        if failed is None:
            gated = await self._call("phase_gate", steps.PhaseGated, steps.PhaseGateInput(
                spec, spec.key(key + "/gate"), shape.index, applied))
            if gated.passed is not None:
                return gated.passed
            failed, rollback = gated.failed or "", True
        return await self._call("phase_settle", steps.PhaseResult, steps.SettleInput(
            spec, spec.key(key + "/settle"), shape.index, failed, rollback))

    async def _call(self, name: str, kind: type[T], argument: Any) -> T:
        """One activity; its progress lines join the run's."""
        assert self.spec is not None
        beat = timedelta(seconds=self.spec.heartbeat_seconds)
        done: T = await workflow.execute_activity(
            name, argument, start_to_close_timeout=timedelta(days=1), heartbeat_timeout=beat,
            retry_policy=RETRIES, result_type=kind,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        self.state.lines.extend(done.said)
        return done

    def _stop(self, where: str, detail: str, verdict: str = "failed") -> bool:
        self.state.stopped_at, self.state.detail, self.verdict = where, detail, verdict
        return True

    async def _close(self, status: str, detail: str) -> steps.RunState:
        """The run finished in the store and its reports written, even when cancelled."""
        assert self.spec is not None
        done = await self._call("finish", steps.Finished, steps.FinishInput(
            self.spec, self.spec.key("finish"), status, detail))
        self.state.files.update(done.files)
        return self._ended(status, detail)

    def _ended(self, status: str, detail: str) -> steps.RunState:
        """The state final: a run stopped other than by a gate stops at its stage."""
        self.state.status, self.state.detail = status, detail
        if status in ("interrupted", "error") and self.state.stopped_at is None:
            self.state.stopped_at = self.state.stage or None
        return self.state


def _how(decision: steps.Decision) -> str:
    who = f" by {decision.who}" if decision.who else ""
    if decision.approve:
        return f"approved{who} with `phasegate approve` (hash {decision.hash})"
    return f"refused: rejected{who} with `phasegate reject`: {decision.reason or 'no reason'}"


def _reason(exc: ActivityError) -> str:
    cause = exc.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or exc)


def _cancelled(exc: ActivityError) -> bool:
    from temporalio.exceptions import CancelledError

    return isinstance(exc.cause, CancelledError)
